import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import { fillFileSystem, withTmpfs } from '../helpers/tmpfs.js';
import { CORRAL, freePort, get, scratch, session } from '../helpers/cli.js';

/** Output files and Corral's own stdout on a full disk: errors said, lines counted, nothing hangs. */

const T = { timeout: 90_000 };

test(
  'an output file on a full disk: an error names component and file, a metric counts, writing resumes with every loss counted',
  T,
  async () => {
    await withTmpfs('1m', async (mount) => {
      const s = scratch();
      const metrics = await freePort();
      const log = join(mount, 'm.log');
      const file = s.write(
        'corral.yaml',
        `metrics: { address: 127.0.0.1:${metrics} }
components:
  m:
    shell: "i=0; while [ ! -e ${s.dir}/end ]; do i=$((i+1)); echo \\"line $i\\"; sleep 0.005; done; echo $i > ${s.dir}/count"
    output: { file: ${log} }
`,
      );
      await session(s, ['run', '-f', file], async (corral) => {
        await waitUntil(
          () => existsSync(log) && readFileSync(log, 'utf8').includes('line 10\n'),
          'the first lines',
        );
        fillFileSystem(join(mount, 'filler'));
        await corral.waitForRecord(
          (r) => r.event === 'output.dropping' && r.component === 'm' && r.destination === log,
          'the error naming the component and the file',
        );
        await waitUntil(async () => {
          const text = (await get(`http://127.0.0.1:${metrics}/metrics`)).body;
          const count = /corral_output_dropped_lines_total\{component="m"\} (\d+)/.exec(text)?.[1];
          return Number(count) >= 20;
        }, 'the metric to count dropped lines');
        unlinkSync(join(mount, 'filler'));
        await corral.waitForRecord(
          (r) => r.event === 'output.dropped' && r.component === 'm' && r.resumed === true,
          'writing to resume',
        );
        const after = readFileSync(log, 'utf8').length;
        await waitUntil(() => readFileSync(log, 'utf8').length > after + 100, 'lines after the outage');
        s.write('end', '');
        assert.equal(await corral.exited, 0, corral.stderr);

        const total = Number(readFileSync(join(s.dir, 'count'), 'utf8'));
        const reported = corral
          .records()
          .filter((r) => r.event === 'output.dropped' && r.component === 'm')
          .reduce((sum, r) => sum + (r.lines as number), 0);
        const lines = readFileSync(log, 'utf8').split('\n');
        assert.equal(lines.pop(), '', 'the file ends with a newline');
        const whole = lines.filter((l) => /^line \d+$/.test(l));
        // At most one line was torn by a partial write, and it was ended before the next one.
        assert.ok(
          lines.length - whole.length <= 1,
          `torn: ${JSON.stringify(lines.filter((l) => !/^line \d+$/.test(l)))}`,
        );
        assert.equal(whole.at(-1), `line ${total}`, 'the last line arrived');
        assert.equal(total - whole.length, reported, 'every line that did not arrive was reported');
      });
    });
  },
);

test(
  'Corral’s stdout on a full disk: SIGTERM still stops the stack gracefully, with no crash',
  T,
  async () => {
    const s = scratch();
    const file = s.write(
      'corral.yaml',
      `components:
  db:
    shell: "trap ': > ${s.dir}/db-stopped; exit 0' TERM; : > ${s.dir}/db-up; while :; do echo db; sleep 0.01; done"
  app:
    shell: "trap ': > ${s.dir}/app-stopped; exit 0' TERM; : > ${s.dir}/app-up; while :; do echo app; sleep 0.01; done"
    dependsOn: [db]
`,
    );
    try {
      for (const format of ['json', 'pretty']) {
        for (const marker of ['db-up', 'app-up', 'db-stopped', 'app-stopped'])
          rmSync(join(s.dir, marker), { force: true });
        const full = openSync('/dev/full', 'w');
        const child = spawn(process.execPath, [CORRAL, 'run', '-f', file, '--log-format', format], {
          stdio: ['ignore', full, 'pipe'],
        });
        closeSync(full);
        let stderr = '';
        child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
        const exited = once(child, 'exit');
        await waitUntil(() => readdirSync(s.dir).includes('app-up'), `app to start (${stderr})`, 15_000);
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0, stderr);
        assert.ok(
          readdirSync(s.dir).includes('app-stopped') && readdirSync(s.dir).includes('db-stopped'),
          'both stopped',
        );
        assert.match(stderr, /could not be written to stdout/);
        assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      }
    } finally {
      s.cleanup();
    }
  },
);
