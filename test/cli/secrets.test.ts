import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import { type Corral, FIXTURES, freePort, get, runCorral, scratch, session } from '../helpers/cli.js';

/*
 * A value from the environment, used as `${SECRET_PW}` in the stack file, must not appear in
 * anything Corral says or writes: stdout, stderr, the metrics endpoint, files in its work dir and
 * next to the stack file. Each scenario also checks that the message or event that would have
 * carried it is there, so that printing nothing cannot pass.
 */

const T = { timeout: 60_000 };
const SECRET = 'Zq7-hunter2-S3cr3t';
/** Too short to search for in text: hidden where it stands whole or inside an interpolated argument. */
const PIN = '42';
const ENV = { SECRET_PW: SECRET, PIN };

type LogRecord = Record<string, unknown>;
const isEvent = (event: string, component: string) => (r: LogRecord) =>
  r.event === event && r.component === component;

/** Every file under `dir`, with its text. */
function filesUnder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files.set(path, readFileSync(path, 'utf8'));
  }
  return files;
}

/** Fails naming where the secret showed, in any spelling. */
function assertNoSecret(outputs: Record<string, string>): void {
  for (const [where, text] of Object.entries(outputs)) {
    for (const spelling of [SECRET, encodeURIComponent(SECRET), 'hunter2']) {
      const at = text.indexOf(spelling);
      assert.equal(at, -1, `the secret shows in ${where}: …${text.slice(Math.max(0, at - 200), at + 100)}…`);
    }
  }
}

/** A component that runs until stopped, drains with an HTTP call that fails, and has the secret in its argv. */
function web(closedPort: number, dir: string): string {
  return `  web:
    command: [${FIXTURES}forever, "--password=\${SECRET_PW}", "\${SECRET_PW}", "--pin=\${PIN}", "\${PIN}"]
    output: { file: ${join(dir, 'web.log')} }
    drain: { http: { url: "http://127.0.0.1:${closedPort}/drain?token=\${SECRET_PW}" }, timeout: 5s }
`;
}

/** A component whose http probe, with the secret in its query, never passes. */
function slow(closedPort: number, extra = ''): string {
  return `  slow:
    command: [${FIXTURES}forever]
    ready: { http: "http://127.0.0.1:${closedPort}/healthz?token=\${SECRET_PW}", interval: 50ms, timeout: 300ms }
    dependsOn: [web]
${extra}`;
}

/** A component whose exec probe, with the secret in its arguments, cannot start. */
function checker(extra = ''): string {
  return `  checker:
    command: [${FIXTURES}forever]
    ready: { exec: [/nonexistent/corral-check, "--password=\${SECRET_PW}"] }
    dependsOn: [web]
${extra}`;
}

const RESTART = '    restart: { maxRestarts: 1000, backoff: { base: 200ms, max: 500ms } }\n';

const expectedArgv = [`${FIXTURES}forever`, '--password=***', '***', '--pin=***', '***'] as const;

for (const format of ['json', 'pretty'] as const) {
  test(
    `${format}: a running stack never shows the secret: argv, probe failures, metrics, drain trigger`,
    T,
    async () => {
      const s = scratch();
      const [closed, metricsPort] = [await freePort(), await freePort()];
      const file = s.write(
        'corral.yaml',
        `workDir: ${join(s.dir, 'work')}
metrics: { address: 127.0.0.1:${metricsPort} }
components:
${web(closed, s.dir)}${slow(closed, RESTART)}${checker(RESTART)}`,
      );
      let metrics = '';
      await session(
        s,
        ['run', '-f', file, '--log-format', format],
        async (corral) => {
          await waitForText(
            corral,
            format === 'json' ? '"ProbeCommandError"' : 'restarting component `checker`',
          );
          await waitForText(
            corral,
            format === 'json' ? '"ProbeTimeoutError"' : 'restarting component `slow`',
          );
          metrics = (await get(`http://127.0.0.1:${metricsPort}/metrics`)).body;
          corral.signal('SIGTERM');
          const code = await corral.exited;
          assert.ok(code === 0 || code === 1, `exit code ${code}`);
          assertNoSecret({
            stdout: corral.stdout,
            stderr: corral.stderr,
            metrics,
            ...Object.fromEntries(filesUnder(s.dir)),
          });

          // What would have carried it is there.
          assert.match(metrics, /corral_component_restarts_total\{component="slow"\} [1-9]/);
          if (format === 'json') {
            const records = corral.records();
            const spawned = records.find(isEvent('process.spawned', 'web'));
            assert.deepEqual(spawned?.command, expectedArgv);
            const timedOut = records.find(isEvent('component.restarting', 'slow'))?.err as LogRecord;
            assert.equal(timedOut.type, 'ProbeTimeoutError');
            assert.match(
              String(timedOut.message),
              /not ready within 300ms: GET http:\/\/127\.0\.0\.1:\d+\/healthz\?token=\*\*\* /,
            );
            const notStarted = records.find(isEvent('component.restarting', 'checker'))?.err as LogRecord;
            assert.equal(notStarted.code, 'PROBE_COMMAND');
            assert.deepEqual(notStarted.command, ['/nonexistent/corral-check', '--password=***']);
            assert.match(String(notStarted.stack), /could not be started/);
            const trigger = records.find(isEvent('warning', 'web'));
            assert.equal(trigger?.code, 'DRAIN_TRIGGER_FAILED');
            assert.match(String(trigger.msg), /drain trigger failed.*\/drain\?token=\*\*\* failed/);
          } else {
            assert.match(corral.stdout, /component `web` started pid \d+/);
            assert.match(corral.stdout, /drain trigger failed.*\/drain\?token=\*\*\* failed/);
          }
        },
        { env: ENV },
      );
    },
  );

  test(`${format}: a probe failure that ends the run is printed without the secret`, T, async () => {
    for (const failing of ['exec', 'http'] as const) {
      const s = scratch();
      const closed = await freePort();
      const file = s.write(
        'corral.yaml',
        `workDir: ${join(s.dir, 'work')}
components:
${web(closed, s.dir)}${failing === 'exec' ? checker() : slow(closed)}`,
      );
      await session(
        s,
        ['run', '-f', file, '--log-format', format],
        async (corral) => {
          assert.equal(await corral.exited, 1, corral.stdout + corral.stderr);
          assertNoSecret({
            stdout: corral.stdout,
            stderr: corral.stderr,
            ...Object.fromEntries(filesUnder(s.dir)),
          });
          const output = corral.stdout + corral.stderr;
          // The failure as the event said it, then again as the reason for exit 1.
          const reason =
            failing === 'exec'
              ? /component `checker` failed: readiness probe command `\/nonexistent\/corral-check` could not be started/g
              : /component `slow` failed: component `slow` was not ready within 300ms: GET http:\/\/127\.0\.0\.1:\d+\/healthz\?token=\*\*\* /g;
          assert.ok((output.match(reason) ?? []).length >= 2, output);
        },
        { env: ENV },
      );
    }
  });
}

test('a secret that equals a component name does not garble events, the report or metrics', T, async () => {
  const s = scratch();
  const metricsPort = await freePort();
  const file = s.write(
    'corral.yaml',
    `metrics: { address: 127.0.0.1:${metricsPort} }
components:
  frontend:
    command: [${FIXTURES}forever, "--service=\${SERVICE}"]
`,
  );
  await session(
    s,
    ['run', '-f', file],
    async (corral) => {
      await corral.waitForRecord(isEvent('component.ready', 'frontend'), 'frontend ready');
      const metrics = (await get(`http://127.0.0.1:${metricsPort}/metrics`)).body;
      corral.signal('SIGTERM');
      assert.equal(await corral.exited, 0);
      const records = corral.records();
      // The name is a key of the stack file, not a value: shown as it is; the argument is hidden.
      assert.deepEqual(records.find(isEvent('process.spawned', 'frontend'))?.command, [
        `${FIXTURES}forever`,
        '--service=***',
      ]);
      assert.equal(records.find(isEvent('stop.report', 'frontend'))?.ended, 'SIGTERM');
      assert.match(metrics, /corral_component_restarts_total\{component="frontend"\} 0/);
    },
    { env: { SERVICE: 'frontend' } },
  );
});

test('corral check and a stack-file error do not show the secret either', T, async () => {
  const s = scratch();
  try {
    const stack = `leaderElection: { postgres: { url: "\${DATABASE_URL}", name: "\${SECRET_PW}" } }
components:
  app:
    command: [${FIXTURES}forever, "--password=\${SECRET_PW}"]
    leader: true
`;
    const env = { ...ENV, DATABASE_URL: `postgres://corral:${SECRET}@127.0.0.1:1/corral` };
    const check = await runCorral(['check', '-f', s.write('corral.yaml', stack)], { env });
    assert.equal(check.code, 0, check.stderr);
    assertNoSecret({ stdout: check.stdout, stderr: check.stderr });
    assert.match(check.stdout, /elected on PostgreSQL, election "\*\*\*"/);

    const broken = await runCorral(
      ['check', '-f', s.write('broken.yaml', `${stack}    stopTimeout: "\${SECRET_PW}"\n`)],
      { env },
    );
    assert.equal(broken.code, 2);
    assertNoSecret({ stdout: broken.stdout, stderr: broken.stderr });
    assert.match(broken.stderr, /components\.app\.stopTimeout/);
  } finally {
    s.cleanup();
  }
});

test('negative control: the same stack without redaction would show the secret', T, async () => {
  // The fixture's argv carries the secret, so Corral is the only thing in the way.
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:\n  web:\n    command: [${FIXTURES}forever, "--password=${SECRET}"]\n`,
  );
  await session(
    s,
    ['run', '-f', file],
    async (corral) => {
      await corral.waitForRecord(isEvent('process.spawned', 'web'), 'web spawned');
      corral.signal('SIGTERM');
      assert.equal(await corral.exited, 0);
      // Written literally in the file, it is no interpolated value: Corral shows the argv as it is.
      assert.throws(() => assertNoSecret({ stdout: corral.stdout }), /the secret shows in stdout/);
    },
    { env: ENV },
  );
});

async function waitForText(corral: Corral, text: string): Promise<void> {
  await waitUntil(
    () => corral.stdout.includes(text),
    `${text}\n--- stdout:\n${corral.stdout}\n--- stderr:\n${corral.stderr}`,
    20_000,
  );
}
