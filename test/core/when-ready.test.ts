import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { fromFunction } from '../../src/core/component.js';
import { ComponentFailedError, InvalidStackError, StopRequest } from '../../src/core/errors.js';
import type { LeaderElector } from '../../src/core/leadership.js';
import { Manager } from '../../src/core/manager.js';
import { aborted, Scripted } from '../helpers/components.js';

const T = { timeout: 10_000 };

/** A component that becomes ready `readyAfter` ms after it starts, on `clock`, and runs until stopped. */
function slow(name: string, clock: ManualClock, readyAfter: number, options: { dependsOn?: string[] } = {}) {
  return {
    name,
    ...options,
    async run(signal: AbortSignal, ctx: { ready(): void }): Promise<void> {
      await clock.sleep(readyAfter, signal).then(
        () => ctx.ready(),
        () => undefined,
      );
      await aborted(signal);
    },
  };
}

/** Tracks how a promise settled, without letting a rejection go unhandled. */
function watch(promise: Promise<void>): {
  state: () => 'pending' | 'resolved' | 'rejected';
  error: () => unknown;
} {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let error: unknown;
  promise.then(
    () => (state = 'resolved'),
    (e: unknown) => {
      state = 'rejected';
      error = e;
    },
  );
  return { state: () => state, error: () => error };
}

test('whenReady resolves only once every component is ready, the last one included', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  manager.add(slow('db', clock, 100));
  manager.add(slow('app', clock, 300, { dependsOn: ['db'] }));
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  const ready = watch(manager.whenReady());
  await clock.advance(100);
  assert.equal(ready.state(), 'pending', 'db is ready, app has not even started');
  await clock.advance(299);
  assert.equal(ready.state(), 'pending', 'app is 1 ms short of ready');
  await clock.advance(1);
  assert.equal(ready.state(), 'resolved');
  assert.equal(manager.ready(), true);
  stop.abort();
  await run;
});

test('whenReady called before run waits for run; called when ready it resolves at once', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  manager.add(slow('a', clock, 50));
  const early = watch(manager.whenReady());
  await clock.advance(1_000);
  assert.equal(early.state(), 'pending', 'nothing runs before run()');
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await clock.advance(50);
  assert.equal(early.state(), 'resolved');
  const late = watch(manager.whenReady());
  await clock.advance(0);
  assert.equal(late.state(), 'resolved');
  stop.abort();
  await run;
});

test(
  'whenReady counts a finished one-shot step as ready and an idle follower leader component as not due',
  T,
  async () => {
    const clock = new ManualClock();
    const never: LeaderElector = { run: (signal) => aborted(signal) };
    const manager = new Manager({ clock, elector: never });
    manager.add(fromFunction('migrate', () => clock.sleep(200), { oneShot: true }));
    manager.add(slow('app', clock, 10, { dependsOn: ['migrate'] }));
    manager.add({ ...slow('reconciler', clock, 10), leader: true });
    const stop = new AbortController();
    const run = manager.run(stop.signal);
    const ready = watch(manager.whenReady());
    await clock.advance(200);
    assert.equal(ready.state(), 'pending', 'app starts once migrate has finished');
    await clock.advance(10);
    assert.equal(ready.state(), 'resolved');
    stop.abort();
    await run;
  },
);

test('whenReady rejects with the failure when a component fails before everything is ready', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  const log: string[] = [];
  const db = new Scripted('db', log);
  manager.add(db);
  manager.add(slow('app', clock, 10));
  const run = manager.run(new AbortController().signal).catch((e: unknown) => e);
  const ready = watch(manager.whenReady());
  await clock.advance(10);
  assert.equal(ready.state(), 'pending', 'db is not ready yet');
  const boom = new Error('boom');
  db.end(boom);
  await clock.advance(0);
  assert.equal(ready.state(), 'rejected');
  const error = ready.error();
  assert.ok(error instanceof ComponentFailedError);
  assert.equal(error.component, 'db');
  assert.equal(error.cause, boom);
  assert.ok((await run) instanceof ComponentFailedError);
  // Afterwards too: the run can never be ready again.
  await assert.rejects(manager.whenReady(), ComponentFailedError);
});

test(
  'whenReady rejects with the stop request when the run is stopped before everything is ready',
  T,
  async () => {
    const clock = new ManualClock();
    const manager = new Manager({ clock });
    manager.add(slow('app', clock, 1_000));
    const stop = new AbortController();
    const run = manager.run(stop.signal);
    const ready = watch(manager.whenReady());
    await clock.advance(500);
    stop.abort();
    await clock.advance(0);
    assert.equal(ready.state(), 'rejected');
    const error = ready.error();
    assert.ok(error instanceof StopRequest);
    assert.equal(error.code, 'STOP_REQUESTED');
    assert.equal(error.reason, 'requested');
    await run;
  },
);

test('whenReady rejects with signal.reason when its signal aborts first, and only that call', T, async () => {
  const clock = new ManualClock();
  const manager = new Manager({ clock });
  manager.add(slow('app', clock, 1_000));
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  const gaveUp = new AbortController();
  const impatient = watch(manager.whenReady(gaveUp.signal));
  const patient = watch(manager.whenReady());
  await clock.advance(100);
  const reason = new Error('gave up');
  gaveUp.abort(reason);
  await clock.advance(0);
  assert.equal(impatient.state(), 'rejected');
  assert.equal(impatient.error(), reason);
  assert.equal(patient.state(), 'pending');
  await clock.advance(900);
  assert.equal(patient.state(), 'resolved');
  assert.equal(impatient.error(), reason, 'a rejected wait stays rejected');
  const already = new AbortController();
  already.abort(reason);
  await assert.rejects(manager.whenReady(already.signal), (e) => e === reason);
  stop.abort();
  await run;
});

test('whenReady rejects with the invalid-stack error run rejects with', T, async () => {
  const manager = new Manager({ clock: new ManualClock() });
  manager.add(fromFunction('a', aborted, { dependsOn: ['b'] }));
  manager.add(fromFunction('b', aborted, { dependsOn: ['a'] }));
  const ready = manager.whenReady();
  await assert.rejects(manager.run(new AbortController().signal), { code: 'DEPENDENCY_CYCLE' });
  await assert.rejects(ready, (e) => e instanceof InvalidStackError && e.code === 'DEPENDENCY_CYCLE');
});
