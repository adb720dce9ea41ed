import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { fromFunction, type Component } from '../../src/core/component.js';
import { processComponent } from '../../src/process/component.js';
import { checkGraceful, type GracefulCheckOptions } from '../../src/testing/check-graceful.js';
import { GracefulCheckError, type GracefulCheckCode } from '../../src/testing/graceful-check-error.js';
import { misbehaving, type MisbehavingComponent } from '../../src/testing/misbehaving.js';
import { snapshot, untilClosed } from '../../src/testing/resources.js';
import { ScriptedComponent } from '../../src/testing/scripted-component.js';
import { captureOutput, fixture, killPids } from '../helpers/process.js';

/** Short bounds: each misbehaviour shows at once, and a failing check costs little time. */
const QUICK: GracefulCheckOptions = { startWithin: 300, stopWithin: 300, settleWithin: 1_000 };

/** Asserts that `check` rejects with a GracefulCheckError of `code` naming `component`, its message matching `message`. */
async function assertFails(
  check: Promise<unknown>,
  component: string,
  code: GracefulCheckCode,
  message: RegExp,
): Promise<GracefulCheckError> {
  let caught: unknown;
  await assert.rejects(check, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof GracefulCheckError, `not a GracefulCheckError: ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.component, component);
  assert.ok(caught.message.startsWith(`component \`${component}\` `), caught.message);
  assert.match(caught.message, message);
  return caught;
}

test(
  'well-behaved components pass, with how long their start and stop took',
  { timeout: 30_000 },
  async () => {
    const passing: Component[] = [
      new ScriptedComponent('scripted', [], { readyAtOnce: true }),
      fromFunction('waits-for-abort', async (signal) => {
        await once(signal, 'abort');
        await delay(20);
      }),
      // Rejecting with the signal's abort is a clean stop, for the manager and so for the check.
      fromFunction('sleeps-until-aborted', (signal) => delay(3_600_000, undefined, { signal })),
    ];
    for (const component of passing) {
      const report = await checkGraceful(component);
      assert.equal(report.component, component.name);
      assert.ok(report.startMs >= 0 && report.startMs < 5_000, `startMs ${report.startMs}`);
      assert.ok(report.stopMs >= 0 && report.stopMs < 5_000, `stopMs ${report.stopMs}`);
    }
    const slow = await checkGraceful(
      fromFunction('stops-in-100ms', async (signal) => {
        await once(signal, 'abort');
        await delay(100);
      }),
    );
    assert.ok(slow.stopMs >= 95, `stopMs ${slow.stopMs}`);
  },
);

test(
  'a server that closes its connections and itself before `run` settles passes',
  { timeout: 30_000 },
  async () => {
    // Its handles are still being closed by the event loop when `run` settles: that is not a leak.
    const server: Component = {
      name: 'tcp-server',
      async run(signal, ctx) {
        const sockets = new Set<Socket>();
        const listener = createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1');
        await once(listener, 'listening');
        const address = listener.address();
        const client = createConnection(
          typeof address === 'object' && address ? address.port : 0,
          '127.0.0.1',
        );
        sockets.add(client);
        await once(client, 'connect');
        ctx.ready();
        await once(signal, 'abort');
        const closed = once(listener, 'close');
        listener.close();
        for (const socket of sockets) socket.destroy();
        await closed;
      },
    };
    const report = await checkGraceful(server);
    assert.equal(report.component, 'tcp-server');
  },
);

test(
  'a process component passes: its child and pipes are gone when it settles',
  { timeout: 30_000 },
  async () => {
    const output = captureOutput();
    const component = processComponent({
      name: 'forever',
      command: [fixture('forever')],
      output: output.target,
    });
    try {
      const report = await checkGraceful(component);
      assert.ok(report.stopMs < 5_000);
    } finally {
      const printed = output.lines.lines.flatMap((line) => /ready (\d+)/.exec(line)?.[1] ?? []);
      killPids(printed.map(Number));
    }
  },
);

/** Each misbehaving fixture, what the check must say about it, and the options that show it. */
const controls: {
  make: () => MisbehavingComponent;
  code: GracefulCheckCode;
  message: RegExp;
}[] = [
  {
    make: () => misbehaving.ignoresStop(),
    code: 'IGNORES_STOP',
    message: /ignores its stop signal: still running 300ms after its signal aborted, and it never looked/,
  },
  {
    make: () => misbehaving.stopsSlowly(),
    code: 'STOP_TIMEOUT',
    message: /did not stop in time: still running 300ms after its signal aborted; it does use the signal/,
  },
  {
    make: () => misbehaving.throwsSynchronously(),
    code: 'FAILED_TO_START',
    message: /failed before it was ready: thrown synchronously by run$/,
  },
  { make: () => misbehaving.neverReady(), code: 'NOT_READY', message: /was not ready within 300ms$/ },
  {
    make: () => misbehaving.rejectsOnStop(),
    code: 'REJECTED_ON_STOP',
    message: /rejected when asked to stop \(a plain stop must resolve\): failed while stopping$/,
  },
  {
    make: () => misbehaving.settlesEarly(),
    code: 'SETTLED_EARLY',
    message:
      /finished before its work was done: when its `run` settled it still had 1 timer open, which closed later/,
  },
  {
    make: () => misbehaving.leaksTimer(),
    code: 'LEAKED_HANDLES',
    message: /left open after it finished: 1 timer; still open 1s after its `run` settled$/,
  },
  {
    make: () => misbehaving.leaksSocket(),
    code: 'LEAKED_HANDLES',
    message: /left open after it finished: 2 TCP sockets; still open 1s/,
  },
  {
    make: () => misbehaving.leaksChildProcess(),
    code: 'LEAKED_HANDLES',
    message: /left open after it finished: process \d+ \(node\); still open 1s/,
  },
];

for (const { make, code, message } of controls) {
  const component = make();
  test(
    `misbehaving \`${component.name}\` fails the check with ${code}, and its release leaves nothing open`,
    {
      timeout: 30_000,
    },
    async () => {
      const before = await snapshot();
      try {
        const error = await assertFails(checkGraceful(component, QUICK), component.name, code, message);
        if (code === 'SETTLED_EARLY' || code === 'LEAKED_HANDLES')
          assert.ok(error.open, 'the error lists what was open');
      } finally {
        await component.release();
      }
      assert.equal(
        await untilClosed(before, 5_000),
        undefined,
        'the fixture left something open after its release',
      );
    },
  );
}

test(
  'a component that uses its signal only through AbortSignal.any is slow, not ignoring it',
  { timeout: 30_000 },
  async () => {
    let release = (): void => undefined;
    const stuck = fromFunction('stuck-in-cleanup', async (signal) => {
      const both = AbortSignal.any([signal, new AbortController().signal]);
      await once(both, 'abort');
      await new Promise<void>((resolve) => (release = resolve));
    });
    try {
      await assertFails(
        checkGraceful(stuck, QUICK),
        'stuck-in-cleanup',
        'STOP_TIMEOUT',
        /it does use the signal/,
      );
    } finally {
      release();
    }
  },
);

test(
  'a component that ends on its own is caught, with what it failed with',
  { timeout: 30_000 },
  async () => {
    await assertFails(
      checkGraceful(
        fromFunction('returns-at-once', () => Promise.resolve()),
        QUICK,
      ),
      'returns-at-once',
      'ENDED_EARLY',
      /finished on its own .*without being asked to stop|finished on its own before it was asked to stop/,
    );
    const boom = new Error('lost the connection');
    const error = await assertFails(
      checkGraceful(
        fromFunction('fails-when-ready', () => Promise.reject(boom)),
        QUICK,
      ),
      'fails-when-ready',
      'ENDED_EARLY',
      /failed .*: lost the connection$/,
    );
    assert.equal(error.cause, boom);
  },
);

test(
  'beforeStop runs while the component is ready; when it fails, the component is stopped and its error passed on',
  {
    timeout: 30_000,
  },
  async () => {
    const log: string[] = [];
    const component = new ScriptedComponent('scripted', log, { readyAtOnce: true });
    await checkGraceful(component, { beforeStop: () => void log.push('before-stop') });
    assert.deepEqual(log, ['start:scripted', 'before-stop', 'stopping:scripted', 'stop:scripted']);

    log.length = 0;
    const broken = new Error('the test client failed');
    await assert.rejects(
      checkGraceful(component, {
        beforeStop: () => {
          throw broken;
        },
      }),
      (error) => error === broken,
    );
    assert.deepEqual(log, ['start:scripted', 'stopping:scripted', 'stop:scripted']);
  },
);

test(
  'a component that drains is drained before it is stopped, within stopWithin',
  { timeout: 30_000 },
  async () => {
    const log: string[] = [];
    const scripted = new ScriptedComponent('drains', log, { readyAtOnce: true });
    const drains: Component = {
      name: 'drains',
      run: (signal, ctx) => scripted.run(signal, ctx),
      async drain() {
        log.push('drain');
        await delay(50);
      },
    };
    const report = await checkGraceful(drains);
    assert.deepEqual(log, ['start:drains', 'drain', 'stopping:drains', 'stop:drains']);
    assert.ok(report.stopMs >= 45, `the stop includes the drain (${report.stopMs}ms)`);
  },
);
