import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isAlive } from '../../src/containment/liveness.js';
import { killPids, waitUntil } from '../helpers/process.js';
import { CORRAL, scratch, session } from '../helpers/cli.js';

/** What a child does with its output must not disturb Corral: endless lines, closed streams. */

const T = { timeout: 90_000 };

/** Corral's peak resident memory so far, in MiB. */
function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

test(
  'one 100 MB line without a newline: memory stays bounded and the line arrives in marked pieces',
  T,
  async () => {
    const s = scratch();
    const file = s.write(
      'corral.yaml',
      `components:
  flood:
    shell: "head -c 100000000 /dev/zero | tr '\\\\0' a; echo; echo done; exec sleep 1000"
`,
    );
    const child = spawn(process.execPath, [CORRAL, 'run', '-f', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      // Read as it comes: only a summary of the pieces is kept.
      const pieces: { length: number; onlyA: boolean; partial: boolean }[] = [];
      let carry = '';
      let done = false;
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        const lines = (carry + text).split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) {
          const record = JSON.parse(line) as { component?: string; line?: string; partial?: boolean };
          if (record.component !== 'flood' || record.line === undefined) continue;
          if (record.line === 'done') done = true;
          else
            pieces.push({
              length: record.line.length,
              onlyA: /^a*$/.test(record.line),
              partial: record.partial === true,
            });
        }
      });
      await waitUntil(() => done, 'the line after it', 60_000);
      assert.equal(
        pieces.reduce((sum, p) => sum + p.length, 0),
        100_000_000,
      );
      assert.ok(
        pieces.every((p) => p.onlyA && p.length <= 64 * 1024),
        'pieces of at most 64 KiB',
      );
      // Every piece but the last says the line goes on.
      assert.deepEqual(
        pieces.map((p) => p.partial),
        pieces.map((_, i) => i < pieces.length - 1),
      );
      const peak = peakRssMiB(child.pid ?? 0);
      assert.ok(peak < 200, `Corral's peak RSS was ${peak.toFixed(0)} MiB`);
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [0, null]);
    } finally {
      if (child.pid !== undefined && isAlive(child.pid)) killPids([child.pid]);
      s.cleanup();
    }
  },
);

test('a child that closes its stdout and stderr and keeps running is supervised as before', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:
  quiet:
    shell: "echo before; exec >&- 2>&-; sleep 1000 & echo $! > ${s.dir}/grandchild; wait"
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord((r) => r.component === 'quiet' && r.line === 'before', 'its last line');
    await waitUntil(() => {
      try {
        return readFileSync(`${s.dir}/grandchild`, 'utf8').trim() !== '';
      } catch {
        return false;
      }
    }, 'the grandchild to start');
    const grandchild = Number(readFileSync(`${s.dir}/grandchild`, 'utf8'));
    // Its output has ended; the component has not.
    const state = corral.records().filter((r) => r.component === 'quiet' && typeof r.event === 'string');
    assert.ok(!state.some((r) => r.event === 'process.exited' || r.event === 'component.failed'));
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout);
    assert.ok(
      corral.records().some((r) => r.event === 'component.stopped' && r.component === 'quiet'),
      'stopped, not failed',
    );
    await waitUntil(() => !isAlive(grandchild), 'the grandchild to be gone');
  });
});
