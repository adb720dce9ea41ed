import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { fromFunction } from '../../src/core/component.js';
import { ComponentFailedError, InvalidStackError, ShutdownTimeoutError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import { aborted, eventually, record, Scripted } from '../helpers/components.js';

const T = { timeout: 10_000 };

/** Runs `manager` and tracks whether `run` has settled. */
function start(manager: Manager): { stop: AbortController; run: Promise<void>; settled: () => boolean } {
  const stop = new AbortController();
  let done = false;
  const run = manager.run(stop.signal);
  run.then(
    () => (done = true),
    () => (done = true),
  );
  return { stop, run, settled: () => done };
}

test('a component added before run runs; one added after run runs and is awaited at stop', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const early = new Scripted('early', log, { readyAtOnce: true });
  manager.add(early);
  const { stop, run, settled } = start(manager);
  await eventually(() => early.starts === 1);
  const late = new Scripted('late', log, {
    readyAtOnce: true,
    cleanup: () => new Promise((resolve) => setTimeout(resolve, 20)),
  });
  manager.add(late);
  await eventually(() => late.starts === 1);
  stop.abort();
  await eventually(() => log.includes('stopping:late'));
  assert.equal(settled(), false, 'run must wait for the late component');
  await run;
  assert.ok(log.includes('stop:late'), 'the late component finished before run resolved');
  assert.ok(log.includes('stop:early'));
});

test('stop resolves run only after a component that takes 2 s to clean up has finished', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  const log: string[] = [];
  manager.add(new Scripted('slow', log, { readyAtOnce: true, cleanup: () => clock.sleep(2_000) }));
  const { stop, run, settled } = start(manager);
  await eventually(() => manager.ready());
  stop.abort();
  await clock.advance(1_999);
  assert.equal(settled(), false);
  assert.ok(!log.includes('stop:slow'));
  await clock.advance(1);
  await run;
  assert.ok(log.includes('stop:slow'));
});

test(
  'a failing component: run rejects with its error, naming it, after the others were stopped and awaited',
  T,
  async () => {
    const log: string[] = [];
    const manager = new Manager();
    const a = new Scripted('a', log, { readyAtOnce: true });
    const b = new Scripted('b', log, {
      readyAtOnce: true,
      cleanup: () => new Promise((resolve) => setTimeout(resolve, 30)),
    });
    manager.add(a);
    manager.add(b);
    const { run } = start(manager);
    await eventually(() => manager.ready());
    const boom = new Error('boom');
    a.end(boom);
    const error = await run.then(
      () => assert.fail('run resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ComponentFailedError);
    assert.equal(error.code, 'COMPONENT_FAILED');
    assert.equal(error.component, 'a');
    assert.equal(error.cause, boom);
    assert.match(error.message, /component `a` failed: boom/);
    assert.ok(log.includes('stop:b'), 'b was stopped and awaited before run rejected');
  },
);

test('a second failure during the stop is kept on the error and blocks nothing', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const first = new Scripted('first', log, { readyAtOnce: true });
  const second = new Scripted('second', log, { readyAtOnce: true, ignoreStop: true });
  const third = new Scripted('third', log, { readyAtOnce: true });
  for (const c of [first, second, third]) manager.add(c);
  const { run } = start(manager);
  await eventually(() => manager.ready());
  first.end(new Error('first failure'));
  await eventually(() => second.signal?.aborted === true);
  second.end(new Error('second failure'));
  const error = await run.then(
    () => assert.fail('run resolved'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ComponentFailedError);
  assert.equal(error.component, 'first');
  assert.deepEqual(
    error.laterFailures.map((f) => [f.component, (f.error as Error).message]),
    [['second', 'second failure']],
  );
  assert.ok(log.includes('stop:third'));
});

test('a synchronous throw is reported with the component name', T, async () => {
  const manager = new Manager();
  manager.add({
    name: 'sync',
    run() {
      throw new Error('thrown synchronously');
    },
  });
  await assert.rejects(manager.run(new AbortController().signal), (e: unknown) => {
    assert.ok(e instanceof ComponentFailedError);
    assert.equal(e.component, 'sync');
    assert.match(e.message, /component `sync` failed: thrown synchronously/);
    return true;
  });
});

test('a rejection with a non-Error value is reported with the component name', T, async () => {
  const manager = new Manager();
  // A non-Error rejection is exactly what this test is about.
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
  manager.add(fromFunction('odd', () => Promise.reject({ status: 42 })));
  await assert.rejects(manager.run(new AbortController().signal), (e: unknown) => {
    assert.ok(e instanceof ComponentFailedError);
    assert.equal(e.component, 'odd');
    assert.deepEqual(e.cause, { status: 42 });
    assert.match(e.message, /component `odd` failed: \{"status":42\}/);
    return true;
  });
});

test('start order honours dependsOn and readiness; stop order is its reverse', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const dns = new Scripted('dns', log);
  const envoy = new Scripted('envoy', log, { dependsOn: ['dns'] });
  const app = new Scripted('app', log, { dependsOn: ['envoy'], readyAtOnce: true });
  for (const c of [app, envoy, dns]) manager.add(c);
  const { stop, run } = start(manager);
  await eventually(() => dns.starts === 1);
  // Started but not ready: its dependent must wait.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(envoy.starts, 0);
  dns.ready();
  await eventually(() => envoy.starts === 1);
  assert.equal(app.starts, 0);
  envoy.ready();
  await eventually(() => manager.ready());
  stop.abort();
  await run;
  assert.deepEqual(
    log.filter((l) => l.startsWith('start:') || l.startsWith('stop:')),
    ['start:dns', 'start:envoy', 'start:app', 'stop:app', 'stop:envoy', 'stop:dns'],
  );
});

/** From the first stop request on: who was asked to stop (`stopping:`) and who had finished (`stop:`). */
function stops(log: readonly string[]): string[] {
  const first = log.findIndex((l) => l.startsWith('stopping:'));
  return log.slice(first).filter((l) => l.startsWith('stopping:') || l.startsWith('stop:'));
}

test(
  'stop order is transitive through a finished one-shot: db stops only after api has finished',
  T,
  async () => {
    const clock = new ManualClock();
    const manager = new Manager({ clock });
    const log: string[] = [];
    const db = new Scripted('db', log, { readyAtOnce: true });
    const migrate = new Scripted('migrate', log, { oneShot: true, dependsOn: ['db'] });
    const api = new Scripted('api', log, {
      readyAtOnce: true,
      dependsOn: ['migrate'],
      cleanup: () => clock.sleep(1_000),
    });
    for (const c of [db, migrate, api]) manager.add(c);
    const { stop, run } = start(manager);
    await eventually(() => migrate.starts === 1);
    migrate.end();
    await eventually(() => manager.ready());
    stop.abort();
    await eventually(() => log.includes('stopping:api'));
    // api is still shutting down gracefully: its database must still be there.
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(!log.includes('stopping:db'), 'db was asked to stop while api was still stopping');
    await clock.advance(1_000);
    await run;
    assert.deepEqual(stops(log), ['stopping:api', 'stop:api', 'stopping:db', 'stop:db']);
  },
);

test(
  'stop order is transitive through a failed component: dns outlives app when proxy crashes',
  T,
  async () => {
    const clock = new ManualClock();
    const manager = new Manager({ clock });
    const log: string[] = [];
    const dns = new Scripted('dns', log, { readyAtOnce: true });
    const proxy = new Scripted('proxy', log, { readyAtOnce: true, dependsOn: ['dns'] });
    const app = new Scripted('app', log, {
      readyAtOnce: true,
      dependsOn: ['proxy'],
      cleanup: () => clock.sleep(1_000),
    });
    for (const c of [dns, proxy, app]) manager.add(c);
    const { run } = start(manager);
    await eventually(() => manager.ready());
    proxy.end(new Error('crashed'));
    await eventually(() => log.includes('stopping:app'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(!log.includes('stopping:dns'), 'dns was asked to stop while app was still running');
    await clock.advance(1_000);
    await assert.rejects(run, /component `proxy` failed: crashed/);
    assert.deepEqual(stops(log), ['stopping:app', 'stop:app', 'stopping:dns', 'stop:dns']);
  },
);

test('stop order in a diamond: the base waits for the top through both of its sides', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  const log: string[] = [];
  const slow = () => clock.sleep(1_000);
  const base = new Scripted('base', log, { readyAtOnce: true });
  const left = new Scripted('left', log, { oneShot: true, dependsOn: ['base'] });
  const right = new Scripted('right', log, { readyAtOnce: true, dependsOn: ['base'], cleanup: slow });
  const top = new Scripted('top', log, { readyAtOnce: true, dependsOn: ['left', 'right'], cleanup: slow });
  for (const c of [base, left, right, top]) manager.add(c);
  const { stop, run } = start(manager);
  await eventually(() => left.starts === 1);
  left.end();
  await eventually(() => manager.ready());
  stop.abort();
  await eventually(() => log.includes('stopping:top'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(stops(log), ['stopping:top'], 'only the top may stop first');
  await clock.advance(1_000);
  await eventually(() => log.includes('stopping:right'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(!log.includes('stopping:base'), 'base was asked to stop while right was still stopping');
  await clock.advance(1_000);
  await run;
  assert.deepEqual(stops(log), [
    'stopping:top',
    'stop:top',
    'stopping:right',
    'stop:right',
    'stopping:base',
    'stop:base',
  ]);
});

test('independent components start and stop concurrently', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  const log: string[] = [];
  const slow = () => clock.sleep(1_000);
  const a = new Scripted('a', log, { cleanup: slow });
  const b = new Scripted('b', log, { cleanup: slow });
  manager.add(a);
  manager.add(b);
  const { stop, run, settled } = start(manager);
  // Both start before either is ready.
  await eventually(() => a.starts === 1 && b.starts === 1);
  a.ready();
  b.ready();
  stop.abort();
  await eventually(() => log.includes('stopping:a') && log.includes('stopping:b'));
  // Both are cleaning up at the same time: one second of clock ends both.
  await clock.advance(1_000);
  await run;
  assert.ok(settled());
});

test('a dependency cycle fails before anything starts', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  manager.add(new Scripted('a', log, { dependsOn: ['c'] }));
  manager.add(new Scripted('b', log, { dependsOn: ['a'] }));
  manager.add(new Scripted('c', log, { dependsOn: ['b'] }));
  manager.add(new Scripted('free', log));
  await assert.rejects(manager.run(new AbortController().signal), (e: unknown) => {
    assert.ok(e instanceof InvalidStackError);
    assert.equal(e.code, 'DEPENDENCY_CYCLE');
    assert.equal(e.message, 'dependency cycle: a -> c -> b -> a');
    return true;
  });
  assert.deepEqual(log, []);
});

test('an unknown dependency fails before anything starts', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  manager.add(new Scripted('free', log));
  manager.add(new Scripted('app', log, { dependsOn: ['nope'] }));
  await assert.rejects(manager.run(new AbortController().signal), (e: unknown) => {
    assert.ok(e instanceof InvalidStackError);
    assert.equal(e.code, 'UNKNOWN_DEPENDENCY');
    assert.equal(e.component, 'app');
    return true;
  });
  assert.deepEqual(log, []);
});

test('a one-shot component that succeeds lets its dependents start and does not end the run', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const init = new Scripted('migrate', log, { oneShot: true });
  const app = new Scripted('app', log, { dependsOn: ['migrate'], readyAtOnce: true });
  manager.add(init);
  manager.add(app);
  const { stop, run, settled } = start(manager);
  await eventually(() => init.starts === 1);
  init.ready(); // ready is not enough for a one-shot dependency: it must finish
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(app.starts, 0);
  init.end();
  await eventually(() => app.starts === 1);
  await eventually(() => manager.ready());
  assert.equal(settled(), false);
  stop.abort();
  await run;
});

test('a one-shot component that fails fails the run and its dependents never start', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const init = new Scripted('migrate', log, { oneShot: true });
  const app = new Scripted('app', log, { dependsOn: ['migrate'] });
  manager.add(init);
  manager.add(app);
  const { run } = start(manager);
  await eventually(() => init.starts === 1);
  init.end(new Error('migration failed'));
  await assert.rejects(run, /component `migrate` failed: migration failed/);
  assert.equal(app.starts, 0);
});

test('a long-running component that ends on its own successfully ends the run successfully', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const envoy = new Scripted('envoy', log, { readyAtOnce: true });
  const app = new Scripted('app', log, { readyAtOnce: true });
  manager.add(envoy);
  manager.add(app);
  const { run } = start(manager);
  await eventually(() => manager.ready());
  envoy.end();
  await run;
  assert.ok(log.includes('stop:app'));
});

test(
  'a component that ignores stop is reported at its stopTimeout; run rejects at shutdownTimeout listing it',
  T,
  async () => {
    const clock = new ManualClock();
    const manager = new Manager({ clock, shutdownTimeout: 5_000 });
    const events = record(manager);
    const log: string[] = [];
    manager.add(new Scripted('stubborn', log, { readyAtOnce: true, ignoreStop: true, stopTimeout: 2_000 }));
    manager.add(new Scripted('base', log, { readyAtOnce: true }));
    manager.add(new Scripted('app', log, { readyAtOnce: true, dependsOn: ['base'], ignoreStop: true }));
    const { stop, run } = start(manager);
    await eventually(() => manager.ready());
    stop.abort();
    await clock.advance(2_000);
    const slow = events.find((e) => e.type === 'component.stop-timeout');
    assert.deepEqual(slow && { ...slow }, {
      type: 'component.stop-timeout',
      component: 'stubborn',
      stoppingForMs: 2_000,
      stopTimeoutMs: 2_000,
      time: (slow as { time: number } | undefined)?.time,
    });
    await clock.advance(3_000);
    const error = await run.then(
      () => assert.fail('run resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ShutdownTimeoutError);
    assert.equal(error.code, 'SHUTDOWN_TIMEOUT');
    assert.deepEqual(
      [...error.stuck].sort((x, y) => x.component.localeCompare(y.component)),
      [
        { component: 'app', phase: 'stopping', forMs: 5_000 },
        { component: 'base', phase: 'waiting', forMs: 5_000 },
        { component: 'stubborn', phase: 'stopping', forMs: 5_000 },
      ],
    );
    assert.match(
      error.message,
      /shutdown did not finish within 5s; still running: .*`stubborn` \(stopping for 5s\)/,
    );
    assert.ok(events.some((e) => e.type === 'shutdown.stuck'));
  },
);

test(
  'a stop during start leaks nothing: started ones are stopped and awaited, pending ones never start',
  T,
  async () => {
    const log: string[] = [];
    const manager = new Manager();
    const db = new Scripted('db', log); // never becomes ready
    const app = new Scripted('app', log, { dependsOn: ['db'] });
    manager.add(db);
    manager.add(app);
    const { stop, run } = start(manager);
    await eventually(() => db.starts === 1);
    stop.abort();
    await run;
    assert.deepEqual(log, ['start:db', 'stopping:db', 'stop:db']);
    assert.equal(app.starts, 0);
    assert.deepEqual(
      manager.status().map((s) => [s.name, s.state]),
      [
        ['db', 'stopped'],
        ['app', 'pending'],
      ],
    );
  },
);

test('readiness: not ready until every component is, and not ready once stopping', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const a = new Scripted('a', log);
  const b = new Scripted('b', log, { cleanup: () => new Promise((resolve) => setTimeout(resolve, 20)) });
  manager.add(a);
  manager.add(b);
  assert.equal(manager.ready(), false, 'not ready before run');
  const { stop, run } = start(manager);
  await eventually(() => a.starts === 1 && b.starts === 1);
  a.ready();
  assert.equal(manager.ready(), false);
  b.ready();
  assert.equal(manager.ready(), true);
  stop.abort();
  assert.equal(manager.ready(), false);
  await run;
  assert.equal(manager.ready(), false);
});

test('readiness: a manager with no components is ready', T, async () => {
  const manager = new Manager();
  const { stop, run } = start(manager);
  assert.equal(manager.ready(), true);
  stop.abort();
  await run;
});

test('status reports each state with a timestamp', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const a = new Scripted('a', log);
  manager.add(a);
  manager.add(new Scripted('b', log, { dependsOn: ['a'] }));
  const before = Date.now();
  const { stop, run } = start(manager);
  await eventually(() => a.starts === 1);
  const status = manager.status();
  assert.deepEqual(
    status.map((s) => [s.name, s.state]),
    [
      ['a', 'starting'],
      ['b', 'pending'],
    ],
  );
  assert.ok(status.every((s) => s.since >= before && s.since <= Date.now()));
  stop.abort();
  await run;
});

test('a graceful stop drains every drainable component before stopping anything', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  const log: string[] = [];
  const proxy = new Scripted('proxy', log, { readyAtOnce: true });
  const app = new Scripted('app', log, { readyAtOnce: true, dependsOn: ['proxy'] });
  manager.add(
    Object.assign(proxy, {
      drain: async (signal: AbortSignal) => {
        log.push('drain:proxy');
        await clock.sleep(1_000, signal);
        log.push('drained:proxy');
      },
    }),
  );
  manager.add(app);
  const { stop, run } = start(manager);
  await eventually(() => manager.ready());
  stop.abort();
  await eventually(() => log.includes('drain:proxy'));
  assert.equal(manager.phase(), 'draining');
  assert.ok(!log.includes('stopping:app'), 'nothing stops while draining');
  await clock.advance(1_000);
  await run;
  assert.deepEqual(log.slice(2), [
    'drain:proxy',
    'drained:proxy',
    'stopping:app',
    'stop:app',
    'stopping:proxy',
    'stop:proxy',
  ]);
});

test('skipDrain cuts the drain short; drain() drains without stopping and only once', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  let drains = 0;
  manager.add({
    name: 'proxy',
    run: async (signal, ctx) => {
      ctx.ready();
      await aborted(signal);
    },
    drain: async (signal) => {
      drains++;
      await clock.sleep(60_000, signal).catch(() => undefined);
    },
  });
  const { stop, run, settled } = start(manager);
  await eventually(() => manager.ready());
  void manager.drain();
  await eventually(() => drains === 1);
  assert.equal(manager.ready(), false, 'a drain-only request turns readiness off');
  assert.equal(manager.phase(), 'running');
  stop.abort();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled(), false, 'the stop waits for the drain in progress');
  manager.skipDrain();
  await run;
  assert.equal(drains, 1, 'a later shutdown does not drain again');
});
