import assert from 'node:assert/strict';
import { readFile, realpath } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { processComponent, type ProcessOptions } from '../../src/process/component.js';
import { Isolation } from '../../src/containment/isolation.js';
import { isAlive, readStat } from '../../src/containment/liveness.js';
import { BinaryLookupError } from '../../src/process/lookup.js';
import { InvalidProbeError, ProbeTimeoutError } from '../../src/process/probe/probe.js';
import { ProcessExitError } from '../../src/process/terminate.js';
import { ComponentFailedError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import type { CorralEvent } from '../../src/events.js';
import {
  captureOutput,
  fixture,
  freePort,
  groupMembers,
  killPids,
  testContext,
  waitGone,
  waitUntil,
} from '../helpers/process.js';

let isolation: Isolation;
/** Every pid a test saw; whatever is still alive after a test is killed (and fails it). */
const seen = new Set<number>();

before(async () => {
  isolation = await Isolation.create();
});
after(async () => {
  killPids(seen);
  await isolation.close();
});

/** A component with this file's isolation and captured output. */
function component(options: Omit<ProcessOptions, 'isolation'>) {
  const output = captureOutput();
  return {
    component: processComponent({ isolation, output: output.target, ...options }),
    lines: output.lines,
  };
}

/** Asserts that no pid the test saw is alive, then forgets them. */
async function assertNothingLeft(): Promise<void> {
  const pids = [...seen];
  seen.clear();
  try {
    await waitGone(pids, 2_000);
  } finally {
    killPids(pids);
  }
}

test(
  'a normal stop: SIGTERM to the group, ready at once, events, output, nothing left',
  { timeout: 15_000 },
  async () => {
    const { component: app, lines } = component({ name: 'app', command: [fixture('forever')] });
    const t = testContext('app');
    const stop = new AbortController();
    const running = app.run(stop.signal, t.ctx);
    await t.ready;
    const [, printed] = await lines.next(/^app \| ready (\d+)$/);
    const pid = t.pid ?? 0;
    seen.add(pid);
    assert.equal(Number(printed), pid);
    assert.deepEqual(groupMembers(pid), [pid]);
    stop.abort();
    await running;
    assert.equal(isAlive(pid), false);
    const exited = t.exited();
    assert.equal(exited?.signal, 'SIGTERM');
    assert.equal(exited.forced, false);
    assert.equal(typeof exited.stopDurationMs, 'number');
    const spawned = t.events.find((e) => e.type === 'process.spawned');
    assert.deepEqual(spawned?.command, [await realpath(fixture('forever'))]);
    await assertNothingLeft();
  },
);

test(
  'a child that ignores SIGTERM is SIGKILLed after stopTimeout, and the run says so',
  { timeout: 15_000 },
  async () => {
    const { component: stubborn, lines } = component({
      name: 'stubborn',
      command: [fixture('ignore-sigterm')],
      stopTimeout: 300,
    });
    const t = testContext('stubborn');
    const stop = new AbortController();
    const running = stubborn.run(stop.signal, t.ctx);
    await lines.next(/ready/);
    seen.add(t.pid ?? 0);
    stop.abort();
    const error = await running.then(
      () => assert.fail('a forced stop is not clean'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProcessExitError);
    assert.equal(
      error.message,
      'component `stubborn` was killed by SIGKILL after ignoring SIGTERM for 300ms',
    );
    assert.deepEqual(
      { signal: error.signal, forced: error.forced, exitStatus: error.exitStatus },
      { signal: 'SIGKILL', forced: true, exitStatus: 137 },
    );
    assert.equal(t.exited()?.forced, true);
    await assertNothingLeft();
  },
);

test('grandchildren are gone when a stop resolves', { timeout: 15_000 }, async () => {
  const { component: parent, lines } = component({
    name: 'parent',
    command: [fixture('spawn-grandchildren'), '4'],
  });
  const t = testContext('parent');
  const stop = new AbortController();
  const running = parent.run(stop.signal, t.ctx);
  await lines.next(/ready/);
  const grandchildren = lines.numbers(/grandchild (\d+)/);
  for (const pid of [t.pid ?? 0, ...grandchildren]) seen.add(pid);
  assert.equal(grandchildren.length, 4);
  assert.ok(grandchildren.every(isAlive));
  stop.abort();
  await running;
  assert.deepEqual(grandchildren.filter(isAlive), []);
  await assertNothingLeft();
});

test('a child that exits on its own leaves no grandchild behind either', { timeout: 15_000 }, async () => {
  const { component: parent, lines } = component({
    name: 'parent',
    command: [fixture('spawn-grandchildren'), '2', '--exit'],
  });
  const t = testContext('parent');
  await parent.run(new AbortController().signal, t.ctx);
  const grandchildren = lines.numbers(/grandchild (\d+)/);
  for (const pid of grandchildren) seen.add(pid);
  assert.equal(grandchildren.length, 2);
  assert.deepEqual(grandchildren.filter(isAlive), []);
  assert.equal(t.exited()?.exitCode, 0);
  assert.equal(t.exited()?.stopDurationMs, undefined);
  await assertNothingLeft();
});

test(
  'a stop before or during start-up starts nothing or stops what started',
  { timeout: 15_000 },
  async () => {
    // Before: nothing is spawned at all.
    const early = testContext('early');
    await component({ name: 'early', command: [fixture('forever')] }).component.run(
      AbortSignal.abort(),
      early.ctx,
    );
    assert.equal(early.pid, undefined);

    // During: the stop lands while the child is being spawned or has just started.
    for (const delay of [0, 1, 5, 20]) {
      const t = testContext('starting');
      const stop = new AbortController();
      const running = component({ name: 'starting', command: [fixture('forever')] }).component.run(
        stop.signal,
        t.ctx,
      );
      setTimeout(() => stop.abort(), delay);
      await running;
      if (t.pid !== undefined) seen.add(t.pid);
      assert.ok(t.pid === undefined || !isAlive(t.pid));
    }

    // While waiting for readiness: the probe is abandoned, the child stopped, ready never called.
    const slow = testContext('slow');
    const stop = new AbortController();
    const { component: slowComponent, lines } = component({
      name: 'slow',
      command: [fixture('slow-to-become-ready'), '60000'],
      ready: (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    const running = slowComponent.run(stop.signal, slow.ctx);
    await lines.next(/starting/);
    seen.add(slow.pid ?? 0);
    stop.abort();
    await running;
    assert.equal(slow.isReady, false);
    await assertNothingLeft();
  },
);

test(
  'a missing binary fails before anything starts, naming where it looked',
  { timeout: 15_000 },
  async () => {
    const t = testContext('ghost');
    const ghost = component({ name: 'ghost', command: ['corral-no-such-binary', '--flag'] }).component;
    const error = await ghost.run(new AbortController().signal, t.ctx).catch((e: unknown) => e);
    assert.ok(error instanceof BinaryLookupError);
    assert.equal(error.code, 'BINARY_NOT_FOUND');
    assert.match(error.message, /^component `ghost`: binary `corral-no-such-binary` not found; looked in \//);
    assert.equal(t.events.length, 0);
    await assert.rejects(ghost.preflight(), BinaryLookupError);
  },
);

test('exit codes and signals are reported, shell-style', { timeout: 20_000 }, async () => {
  const ok = testContext('ok');
  await component({ name: 'ok', command: [fixture('exit-with-code'), '0'] }).component.run(
    new AbortController().signal,
    ok.ctx,
  );
  assert.equal(ok.exited()?.exitCode, 0);

  const cases = [
    { args: ['3'], message: 'component `job` exited with code 3', exitCode: 3, signal: null, exitStatus: 3 },
    {
      args: ['--signal', 'SEGV'],
      message: 'component `job` was killed by SIGSEGV',
      exitCode: null,
      signal: 'SIGSEGV',
      exitStatus: 139,
    },
  ];
  for (const expected of cases) {
    const t = testContext('job');
    const job = component({ name: 'job', command: [fixture('exit-with-code'), ...expected.args] }).component;
    const error = await job.run(new AbortController().signal, t.ctx).catch((e: unknown) => e);
    assert.ok(error instanceof ProcessExitError, expected.message);
    assert.equal(error.message, expected.message);
    assert.equal(error.code, 'PROCESS_EXITED');
    assert.deepEqual(
      { exitCode: error.exitCode, signal: error.signal, forced: error.forced, exitStatus: error.exitStatus },
      {
        exitCode: expected.exitCode,
        signal: expected.signal,
        forced: false,
        exitStatus: expected.exitStatus,
      },
    );
  }

  // While stopping: exiting 128 + the stop signal is clean (a shell's way); another code is not.
  for (const [code, clean] of [
    ['143', true],
    ['1', false],
  ] as const) {
    const t = testContext('stopping');
    const stop = new AbortController();
    const { component: c, lines } = component({
      name: 'stopping',
      command: [fixture('exit-with-code'), '--on-term', code],
    });
    const running = c.run(stop.signal, t.ctx);
    await lines.next(/ready/);
    stop.abort();
    const outcome = await running.then(
      () => 'clean',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    assert.equal(outcome, clean ? 'clean' : `component \`stopping\` exited with code ${code} after SIGTERM`);
  }
});

test('output is forwarded completely and in order before the run settles', { timeout: 15_000 }, async () => {
  const { component: chatty, lines } = component({
    name: 'chatty',
    command: [fixture('chatty'), '5000', 'both'],
  });
  await chatty.run(new AbortController().signal, testContext('chatty').ctx);
  const out = lines.lines.filter((l) => l.startsWith('chatty | out '));
  const err = lines.lines.filter((l) => l.startsWith('chatty | err '));
  assert.deepEqual(
    out,
    Array.from({ length: 5000 }, (_, i) => `chatty | out ${i + 1}`),
  );
  assert.deepEqual(
    err,
    Array.from({ length: 5000 }, (_, i) => `chatty | err ${i + 1}`),
  );
});

test(
  'no shell unless asked: the environment, the working directory and an explicit `sh -c`',
  { timeout: 15_000 },
  async () => {
    const env = { CORRAL_GREETING: 'hello' };
    const literal = component({ name: 'literal', command: ['echo', '$CORRAL_GREETING', '$(id)'], env });
    await literal.component.run(new AbortController().signal, testContext('literal').ctx);
    assert.deepEqual(literal.lines.lines, ['literal | $CORRAL_GREETING $(id)']);

    const shell = component({
      name: 'shell',
      command: ['/bin/sh', '-c', 'echo $CORRAL_GREETING && pwd'],
      env,
      cwd: '/tmp',
    });
    await shell.component.run(new AbortController().signal, testContext('shell').ctx);
    assert.deepEqual(shell.lines.lines, ['shell | hello', 'shell | /tmp']);
  },
);

test(
  'ready waits for the check; a failing check stops the child and fails the run',
  { timeout: 15_000 },
  async () => {
    const t = testContext('web');
    const stop = new AbortController();
    const { component: web, lines } = component({
      name: 'web',
      command: [fixture('slow-to-become-ready'), '300'],
      ready: (signal, child) =>
        new Promise<void>((resolve, reject) => {
          const unwatch = child.lines.watch((line) => {
            if (line.startsWith('ready')) {
              unwatch();
              resolve();
            }
          });
          signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        }),
    });
    const running = web.run(stop.signal, t.ctx);
    await lines.next(/starting/);
    seen.add(t.pid ?? 0);
    assert.equal(t.isReady, false);
    await t.ready;
    assert.ok(lines.lines.some((l) => /^web \| ready/.test(l)));
    stop.abort();
    await running;

    const failing = testContext('never');
    const never = component({
      name: 'never',
      command: [fixture('forever')],
      ready: () => Promise.reject(new Error('probe `http://127.0.0.1:1/` missed its deadline')),
    }).component;
    await assert.rejects(never.run(new AbortController().signal, failing.ctx), /missed its deadline/);
    seen.add(failing.pid ?? 0);
    assert.equal(failing.isReady, false);
    assert.equal(failing.exited()?.signal, 'SIGTERM');
    await assertNothingLeft();
  },
);

test(
  'the drain hook gets the running child and the mode, and is skipped when none runs',
  { timeout: 15_000 },
  async () => {
    const drained: [number, string][] = [];
    const { component: app, lines } = component({
      name: 'app',
      command: [fixture('forever')],
      drain: (_signal, _ctx, child, mode) => {
        drained.push([child.pid, mode]);
        return Promise.resolve();
      },
    });
    const t = testContext('app');
    assert.ok(app.drain);
    await app.drain(new AbortController().signal, t.ctx, 'before-stop');
    assert.deepEqual(drained, []);
    const stop = new AbortController();
    const running = app.run(stop.signal, t.ctx);
    await lines.next(/ready/);
    seen.add(t.pid ?? 0);
    await app.drain(new AbortController().signal, t.ctx, 'drain-only');
    assert.deepEqual(drained, [[t.pid, 'drain-only']]);
    stop.abort();
    await running;
    await assertNothingLeft();
  },
);

test(
  'a drain ends when the child exits during it: a process that is gone has nothing left to drain',
  { timeout: 15_000 },
  async () => {
    let drainSignal: AbortSignal | undefined;
    const { component: app, lines } = component({
      name: 'app',
      command: [fixture('exit-with-code'), '--on-term', '0'],
      // A drain that would wait forever unless its signal aborts.
      drain: (signal) => {
        drainSignal = signal;
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
    });
    const t = testContext('app');
    const stop = new AbortController();
    const running = app.run(stop.signal, t.ctx);
    await lines.next(/ready/);
    seen.add(t.pid ?? 0);
    assert.ok(app.drain);
    const draining = app.drain(new AbortController().signal, t.ctx, 'before-stop');
    await waitUntil(() => drainSignal !== undefined, 'drain started');
    assert.equal(drainSignal?.aborted, false);
    // The child leaves on its own (it exits 0 on SIGTERM); the drain must not outlive it.
    process.kill(t.pid ?? 0, 'SIGTERM');
    await draining;
    assert.equal(drainSignal.aborted, true);
    await running;
    await assertNothingLeft();
  },
);

test(
  'readiness probes: log and tcp pass once the program is ready; a missed deadline fails, naming the probe',
  { timeout: 20_000 },
  async () => {
    const port = await freePort();
    for (const ready of [{ log: '^ready \\d+$' }, { tcp: `127.0.0.1:${port}`, interval: 50 }]) {
      const t = testContext('web');
      const stop = new AbortController();
      const { component: web, lines } = component({
        name: 'web',
        command: [fixture('slow-to-become-ready'), '300', String(port)],
        ready,
      });
      const running = web.run(stop.signal, t.ctx);
      await lines.next(/starting/);
      seen.add(t.pid ?? 0);
      assert.equal(t.isReady, false, JSON.stringify(ready));
      await t.ready;
      if ('log' in ready) assert.ok(lines.lines.some((l) => /^web \| ready/.test(l)));
      stop.abort();
      await running;
    }

    const t = testContext('late');
    const late = component({
      name: 'late',
      command: [fixture('slow-to-become-ready'), '60000', String(port)],
      ready: { tcp: `127.0.0.1:${port}`, interval: 50, timeout: 400 },
    }).component;
    const error = await late.run(new AbortController().signal, t.ctx).catch((e: unknown) => e);
    seen.add(t.pid ?? 0);
    assert.ok(error instanceof ProbeTimeoutError);
    assert.match(error.message, /^component `late` was not ready within 400ms: /);
    assert.ok(error.message.includes(`127.0.0.1:${port}`));
    assert.equal(t.isReady, false);
    assert.notEqual(t.exited()?.stopDurationMs, undefined, 'it was stopped');
    await assertNothingLeft();
  },
);

test('a bad probe fails when the component is made, before anything starts', () => {
  assert.throws(
    () => processComponent({ name: 'x', command: ['true'], ready: { tcp: 'nope' } }),
    InvalidProbeError,
  );
  assert.throws(
    () => processComponent({ name: 'x', command: ['true'], ready: { log: 'up' }, output: 'inherit' }),
    /does not forward its output/,
  );
  // Given no output, the child writes to Corral's own streams: nothing is forwarded to watch.
  assert.throws(
    () => processComponent({ name: 'x', command: ['true'], ready: { log: 'up' } }),
    /does not forward its output \(output: inherit\)/,
  );
});

test(
  'with the cgroup layer a setsid escapee is stopped too, by the stop signal; without it, it survives',
  { timeout: 20_000 },
  async (t) => {
    if (!isolation.layers.cgroup) {
      t.skip('no writable cgroup v2 hierarchy here');
      return;
    }
    const bare = await Isolation.create({ cgroup: false, watchdog: false });
    try {
      for (const [layers, survives] of [
        [isolation, false],
        [bare, true],
      ] as const) {
        const output = captureOutput();
        const c = processComponent({
          name: 'daemon',
          command: [fixture('setsid-escapee')],
          isolation: layers,
          output: output.target,
          // The escapee must obey the stop signal: SIGKILL after this would make the stop forced.
          stopTimeout: 5_000,
        });
        const ctx = testContext('daemon');
        const stop = new AbortController();
        const running = c.run(stop.signal, ctx.ctx);
        const [, escapee] = await output.lines.next(/escapee (\d+)/);
        seen.add(Number(escapee));
        seen.add(ctx.pid ?? 0);
        stop.abort();
        await running;
        assert.equal(isAlive(Number(escapee)), survives, survives ? 'negative control' : 'escapee');
        if (!survives) assert.equal(ctx.exited()?.forced, false, 'the escapee got the stop signal');
        killPids([Number(escapee)]);
      }
    } finally {
      await bare.close();
    }
    await assertNothingLeft();
  },
);

test(
  'with the Manager: one component fails, the others are stopped and no process remains',
  { timeout: 20_000 },
  async () => {
    const manager = new Manager({ shutdownTimeout: 15_000 });
    // Ready once they printed `ready` (after starting everything), so `job` fails only then.
    const server = component({
      name: 'server',
      command: [fixture('spawn-grandchildren'), '3'],
      ready: { log: '^ready' },
    });
    const stubborn = component({
      name: 'stubborn',
      command: [fixture('ignore-sigterm')],
      stopTimeout: 500,
      ready: { log: '^ready' },
    });
    const job = component({
      name: 'job',
      command: [fixture('exit-with-code'), '7'],
      dependsOn: ['server', 'stubborn'],
    });
    const pids: number[] = [];
    manager.on<CorralEvent>((event) => {
      if (event.type === 'process.spawned') pids.push(event.pid);
    });
    for (const c of [server, stubborn, job]) manager.add(c.component);
    const error = await manager.run(new AbortController().signal).catch((e: unknown) => e);
    const grandchildren = server.lines.numbers(/grandchild (\d+)/);
    for (const pid of [...pids, ...grandchildren]) seen.add(pid);
    assert.ok(error instanceof ComponentFailedError);
    assert.equal(error.component, 'job');
    assert.ok(error.cause instanceof ProcessExitError);
    assert.equal(error.cause.exitCode, 7);
    // The stubborn one had to be killed: reported as a later failure, not hidden.
    assert.deepEqual(
      error.laterFailures.map((f) => f.component),
      ['stubborn'],
    );
    assert.equal(pids.length, 3);
    assert.equal(grandchildren.length, 3);
    // Settled means finished: nothing is left at the moment run() returns.
    assert.deepEqual([...pids, ...grandchildren].filter(isAlive), []);
    await assertNothingLeft();
  },
);

test(
  'the isolation is shared: its watchdog and cgroup parent stay while components come and go',
  { timeout: 15_000 },
  async () => {
    assert.equal(isolation.layers.watchdog, true);
    const watchdog = isolation.watchdogPid ?? 0;
    assert.ok(isAlive(watchdog));
    const a = component({ name: 'a', command: [fixture('exit-with-code'), '0'] });
    await a.component.run(new AbortController().signal, testContext('a').ctx);
    assert.equal(isolation.watchdogPid, watchdog);
    await waitUntil(() => isAlive(watchdog), 'watchdog still running');
  },
);

test(
  'a layer that is missing is reported once, through the first component or to onWarning',
  { timeout: 15_000 },
  async () => {
    // A /proc without mountinfo stands for a host without cgroup v2.
    const degraded = await Isolation.create({ watchdog: false, cgroup: { procRoot: '/nonexistent' } });
    try {
      assert.equal(degraded.layers.cgroup, false);
      const contexts = [testContext('first'), testContext('second')];
      for (const t of contexts) {
        const output = captureOutput();
        await processComponent({
          name: t.ctx.name,
          command: [fixture('exit-with-code'), '0'],
          isolation: degraded,
          output: output.target,
        }).run(new AbortController().signal, t.ctx);
      }
      const warnings = contexts.map((t) => t.events.filter((e) => e.type === 'warning').map((e) => e.code));
      assert.deepEqual(warnings, [['CGROUP_UNAVAILABLE'], []]);
    } finally {
      await degraded.close();
    }

    const received: string[] = [];
    const told = await Isolation.create({
      watchdog: false,
      cgroup: { procRoot: '/nonexistent' },
      onWarning: (warning) => received.push(warning.code),
    });
    await told.close();
    assert.deepEqual(received, ['CGROUP_UNAVAILABLE']);
  },
);

test(
  'an escapee without a cgroup that holds the output cannot keep the run from settling',
  { timeout: 15_000 },
  async () => {
    const bare = await Isolation.create({ cgroup: false, watchdog: false });
    const output = captureOutput();
    const t = testContext('leaky');
    try {
      await processComponent({
        name: 'leaky',
        command: [fixture('setsid-escapee'), '--keep-output', '--exit'],
        isolation: bare,
        output: output.target,
      }).run(new AbortController().signal, t.ctx);
      const [escapee = 0] = output.lines.numbers(/escapee (\d+)/);
      seen.add(escapee);
      assert.ok(isAlive(escapee), 'the escapee still runs, holding the pipe');
      assert.deepEqual(
        t.events.filter((e) => e.type === 'warning').map((e) => e.code),
        ['OUTPUT_HELD'],
      );
      assert.ok(output.lines.lines.some((l) => /^leaky \| ready/.test(l)));
      killPids([escapee]);
    } finally {
      await bare.close();
    }
    await assertNothingLeft();
  },
);

test(
  'given no isolation, the child runs in its own session and in Corral’s cgroup: nothing is created for it',
  { timeout: 15_000 },
  async () => {
    const output = captureOutput();
    const t = testContext('plain');
    const stop = new AbortController();
    const running = processComponent({
      name: 'plain',
      command: [fixture('forever')],
      output: output.target,
    }).run(stop.signal, t.ctx);
    try {
      await output.lines.next(/^plain \| ready/);
      const pid = t.pid ?? 0;
      seen.add(pid);
      assert.equal(readStat(pid)?.sid, pid, 'it leads its own session');
      assert.equal(
        await readFile(`/proc/${pid}/cgroup`, 'utf8'),
        await readFile('/proc/self/cgroup', 'utf8'),
      );
      assert.deepEqual(
        t.events.filter((e) => e.type === 'warning'),
        [],
        'no layer is missing: none was asked for',
      );
    } finally {
      stop.abort();
      await running;
    }
    await assertNothingLeft();
  },
);
