import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, freePort, scratch, session } from '../helpers/cli.js';
import { notifiedRun, type Datagram } from '../helpers/notify-receiver.js';
import { waitUntil } from '../helpers/process.js';

const T = { timeout: 60_000 };

/** A component that takes `seconds` to stop after SIGTERM, so that its STATUS is seen on its own. */
const slowToStop = (seconds: number): string =>
  `[/bin/sh, -c, "trap 'sleep ${seconds}; exit 0' TERM; while :; do sleep 0.1; done"]`;

/** The value of `name` in a datagram, or undefined. */
const field = (d: Datagram, name: string): string | undefined =>
  d.fields.find((f) => f.startsWith(`${name}=`))?.slice(name.length + 1);

/** The environment a process was started with. */
function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

/** Asserts that `actual` is `expected` with some entries left out (a pending STATUS is updated in place). */
function assertSubsequence(actual: readonly string[], expected: readonly string[], what: string): void {
  let at = 0;
  for (const item of actual) {
    while (at < expected.length && expected[at] !== item) at++;
    assert.ok(
      at < expected.length,
      `${what}: ${JSON.stringify(actual)} is not in order within ${JSON.stringify(expected)}`,
    );
    at++;
  }
}

test(
  'under NOTIFY_SOCKET a run says READY=1 once all is ready, then STOPPING=1 and its progress, in order, from its own pid; children do not see the socket',
  T,
  async () => {
    const s = scratch();
    const address = join(s.dir, 'notify');
    const file = s.write(
      'corral.yaml',
      `shutdown: { timeout: 20s }
components:
  db:
    command: ${slowToStop(1)}
  app:
    command: ${slowToStop(1)}
    dependsOn: [db]
`,
    );
    await notifiedRun(
      s,
      address,
      file,
      {
        CORRAL_TEST_MARK: 'kept',
        WATCHDOG_USEC: '200000',
        WATCHDOG_PID: '1', // another process's watchdog: not Corral's to ping
      },
      async (corral, receiver) => {
        await receiver.waitFor('READY=1');
        // The sd_notify variables are gone from every child's environment, and nothing else is.
        await waitUntil(() => corral.spawnedPids().length === 2, 'both components spawned');
        for (const pid of corral.spawnedPids()) {
          const env = environOf(pid);
          assert.ok(
            env.includes('CORRAL_TEST_MARK=kept'),
            `the child ${pid} lost the rest of the environment`,
          );
          for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'])
            assert.ok(!env.some((v) => v.startsWith(`${name}=`)), `the child ${pid} sees ${name}`);
        }
        corral.signal('SIGTERM');
        assert.equal(await corral.exited, 0, corral.stderr);

        const datagrams = receiver.datagrams();
        if (process.getuid?.() === 0) {
          // As root, systemd-notify sends in the name of its parent: systemd sees Corral's pid.
          assert.deepEqual(new Set(datagrams.map((d) => d.pid)), new Set([corral.child.pid]));
        }
        const ready = datagrams.findIndex((d) => d.fields.includes('READY=1'));
        const stopping = datagrams.findIndex((d) => d.fields.includes('STOPPING=1'));
        assert.equal(datagrams.filter((d) => d.fields.includes('READY=1')).length, 1, 'READY=1 once');
        assert.deepEqual(datagrams[ready]?.fields, ['READY=1', 'STATUS=2/2 ready']);
        assert.ok(stopping > ready, 'STOPPING=1 after READY=1');
        assertSubsequence(
          datagrams.slice(0, ready).map((d) => d.fields.join('\n')),
          ['STATUS=0/2 ready', 'STATUS=1/2 ready'],
          'before READY=1',
        );

        // From STOPPING=1 on, every message extends systemd's stop timeout up to Corral's own
        // deadline (20s + 5s to exit), no further.
        const stop = datagrams.slice(stopping);
        assert.deepEqual(
          stop[0]?.fields.filter((f) => !f.startsWith('EXTEND_TIMEOUT_USEC=')),
          ['STOPPING=1', 'STATUS=shutting down: stop requested'],
        );
        for (const d of stop) {
          const extend = Number(field(d, 'EXTEND_TIMEOUT_USEC'));
          assert.ok(extend > 0 && extend <= 25_000_000, `EXTEND_TIMEOUT_USEC in ${JSON.stringify(d.fields)}`);
        }
        const statuses = stop.slice(1).map((d) => field(d, 'STATUS'));
        assertSubsequence(
          statuses.map(String),
          [
            'stopping app',
            'shutting down: stop requested',
            'stopping db',
            'shutting down: stop requested',
            'stopped',
          ],
          'after STOPPING=1',
        );
        // Each took a second to stop: long enough for its own STATUS to be sent.
        assert.ok(statuses.includes('stopping app') && statuses.includes('stopping db'), String(statuses));
        assert.equal(statuses.at(-1), 'stopped');
        assert.ok(
          !datagrams.some((d) => d.fields.includes('WATCHDOG=1')),
          'no watchdog pings without WATCHDOG_USEC',
        );
      },
    );
  },
);

test(
  'a failed start sends no READY=1 and exits 1; STOPPING=1 names the component that failed',
  T,
  async () => {
    const s = scratch();
    const address = join(s.dir, 'notify');
    const file = s.write(
      'corral.yaml',
      `components:
  db:
    command: [${FIXTURES}forever]
  app:
    command: [${FIXTURES}exit-with-code, "3"]
    ready: { tcp: "127.0.0.1:${await freePort()}", timeout: 30s }
    dependsOn: [db]
`,
    );
    await notifiedRun(s, address, file, {}, async (corral, receiver) => {
      assert.equal(await corral.exited, 1, corral.stderr);
      const datagrams = receiver.datagrams();
      assert.ok(!datagrams.some((d) => d.fields.includes('READY=1')), JSON.stringify(datagrams));
      const stopping = datagrams.find((d) => d.fields.includes('STOPPING=1'));
      assert.equal(stopping && field(stopping, 'STATUS'), 'shutting down: app failed');
      assert.equal(field(datagrams.at(-1) ?? { pid: 0, fields: [] }, 'STATUS'), 'stopped');
    });
  },
);

test(
  'an abstract socket (@name) gets READY=1, and WATCHDOG=1 comes every half of WATCHDOG_USEC',
  T,
  async () => {
    const s = scratch();
    const address = `@corral-test-${process.pid}-${Date.now()}`;
    const file = s.write('corral.yaml', `components:\n  app:\n    command: [${FIXTURES}forever]\n`);
    await notifiedRun(
      s,
      address,
      file,
      // WATCHDOG_PID unset: the watchdog is Corral's.
      { WATCHDOG_USEC: '400000' },
      async (corral, receiver) => {
        await receiver.waitFor('READY=1');
        // Every 200 ms: three pings within seconds, however busy the machine.
        await waitUntil(
          () => receiver.datagrams().filter((d) => d.fields.includes('WATCHDOG=1')).length >= 3,
          `three WATCHDOG=1; got ${JSON.stringify(receiver.datagrams())}`,
          15_000,
        );
        corral.signal('SIGTERM');
        assert.equal(await corral.exited, 0, corral.stderr);
      },
    );
  },
);

test('a socket nobody listens on is warned about once; the run goes on and stops cleanly', T, async () => {
  const s = scratch();
  const file = s.write('corral.yaml', `components:\n  app:\n    command: [${FIXTURES}forever]\n`);
  await session(
    s,
    ['run', '-f', file],
    async (corral) => {
      await corral.waitForRecord((r) => r.event === 'component.ready', 'app ready');
      await corral.waitForRecord((r) => r.code === 'SYSTEMD_NOTIFY_FAILED', 'the warning');
      corral.signal('SIGTERM');
      assert.equal(await corral.exited, 0, corral.stderr);
      const warnings = corral.records().filter((r) => r.code === 'SYSTEMD_NOTIFY_FAILED');
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(String(warnings[0]?.message), /could not notify systemd on .*nobody-listens/);
    },
    // Many messages (watchdog pings among them) fail, one warning.
    { env: { NOTIFY_SOCKET: join(s.dir, 'nobody-listens'), WATCHDOG_USEC: '200000' } },
  );
});
