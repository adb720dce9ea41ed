import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/testing/manual-clock.js';
import type { Component } from '../../src/core/component.js';
import { RestartLimitError } from '../../src/core/errors.js';
import type { CorralEvent } from '../../src/events.js';
import { Manager } from '../../src/core/manager.js';
import { withRestarts } from '../../src/core/restart.js';
import { aborted, eventually, record } from '../helpers/components.js';

const T = { timeout: 10_000 };
type Restarting = Extract<CorralEvent, { type: 'component.restarting' }>;
const restarts = (events: CorralEvent[]): Restarting[] =>
  events.filter((e): e is Restarting => e.type === 'component.restarting');

/** A component whose every run fails after `runFor` ms of clock time (at once by default). */
function crashing(clock: ManualClock, runs: { count: number }, runFor = () => 0): Component {
  return {
    name: 'flaky',
    async run(signal, ctx) {
      runs.count++;
      ctx.ready();
      const ms = runFor();
      if (ms > 0) await clock.sleep(ms, signal);
      throw new Error(`crash ${runs.count}`);
    },
  };
}

function startManager(component: Component, clock: ManualClock) {
  const manager = new Manager({ clock });
  const events = record(manager);
  manager.add(component);
  const stop = new AbortController();
  let settled = false;
  const run = manager.run(stop.signal);
  run.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { manager, events, stop, run, settled: () => settled };
}

test('restart delays follow the exponential backoff within the jitter', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  for (const [random, factor] of [
    [() => 0.5, 1],
    [() => 0, 0.8],
    [() => 0.999999, 1.2],
  ] as const) {
    runs.count = 0;
    const component = withRestarts(crashing(clock, runs), {
      backoff: { base: 100, max: 1_000, jitter: 0.2 },
      maxRestarts: 100,
      random,
    });
    const { events, stop, run } = startManager(component, clock);
    for (let i = 1; i <= 5; i++) {
      await eventually(() => restarts(events).length === i);
      await clock.advance(restarts(events)[i - 1]?.delayMs ?? 0);
    }
    const delays = restarts(events)
      .slice(0, 5)
      .map((e) => e.delayMs);
    const nominal = [100, 200, 400, 800, 1_000];
    assert.deepEqual(
      delays,
      nominal.map((d) => Math.min(1_000, Math.round(d * factor))),
    );
    assert.deepEqual(
      restarts(events)
        .slice(0, 5)
        .map((e) => e.attempt),
      [1, 2, 3, 4, 5],
    );
    stop.abort();
    await run;
  }
});

test('the backoff resets after a run that lasted longer than max', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  // Runs 1-2 crash at once; run 3 is stable (2 s > max) before crashing; run 4 crashes at once.
  const durations = [0, 0, 2_000, 0, 0];
  const component = withRestarts(
    crashing(clock, runs, () => durations[runs.count - 1] ?? 0),
    { backoff: { base: 100, max: 1_000, jitter: 0 }, maxRestarts: 100 },
  );
  const { events, stop, run } = startManager(component, clock);
  await eventually(() => restarts(events).length === 1);
  await clock.advance(100); // run 2
  await eventually(() => restarts(events).length === 2);
  await clock.advance(200); // run 3: stable for 2 s
  await eventually(() => runs.count === 3);
  await clock.advance(2_000);
  await eventually(() => restarts(events).length === 3);
  await clock.advance(100); // run 4
  await eventually(() => restarts(events).length === 4);
  assert.deepEqual(
    restarts(events).map((e) => e.attempt),
    [1, 2, 1, 2],
  );
  stop.abort();
  await run;
});

test('a stop during the backoff wait resolves at once', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  const component = withRestarts(crashing(clock, runs), { backoff: { base: 60_000, max: 60_000 } });
  const { events, stop, run } = startManager(component, clock);
  await eventually(() => restarts(events).length === 1);
  stop.abort();
  await run; // no clock advance: the 60 s wait must not hold the stop
  assert.equal(runs.count, 1);
});

test('the wrapper settles only after its inner run has finished', T, async () => {
  const clock = new ManualClock();
  let innerFinished = false;
  const inner: Component = {
    name: 'slow-stop',
    async run(signal, ctx) {
      ctx.ready();
      await aborted(signal);
      await clock.sleep(3_000);
      innerFinished = true;
    },
  };
  const { manager, stop, run, settled } = startManager(withRestarts(inner), clock);
  await eventually(() => manager.ready());
  stop.abort();
  await clock.advance(2_999);
  assert.equal(settled(), false);
  assert.equal(innerFinished, false);
  await clock.advance(1);
  await run;
  assert.equal(innerFinished, true);
});

test('the intensity limit fails the run', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  const component = withRestarts(crashing(clock, runs), {
    backoff: { base: 10, max: 10, jitter: 0 },
    maxRestarts: 3,
    window: 60_000,
  });
  const { events, run } = startManager(component, clock);
  for (let i = 1; i <= 3; i++) {
    await eventually(() => restarts(events).length === i);
    await clock.advance(10);
  }
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof Error && e.cause instanceof RestartLimitError);
    assert.equal(e.cause.code, 'RESTART_LIMIT');
    assert.equal(e.cause.restarts, 3);
    assert.match(e.cause.message, /gave up after 3 restarts within 60s: crash 4/);
    return true;
  });
  assert.equal(runs.count, 4);
});

test(
  'crash-loop events are sampled: the first 5, then one per 10 s with the count suppressed',
  T,
  async () => {
    const clock = new ManualClock();
    const runs = { count: 0 };
    const component = withRestarts(crashing(clock, runs), {
      backoff: { base: 1_000, max: 1_000, jitter: 0 },
      maxRestarts: 1_000,
      window: 1_000,
    });
    const { events, stop, run } = startManager(component, clock);
    // 25 crashes, one per second of clock.
    while (runs.count < 25) {
      const before = runs.count;
      await clock.advance(1_000);
      await eventually(() => runs.count > before);
    }
    const announced = restarts(events).filter((e) => e.announce);
    assert.deepEqual(
      announced.map((e) => [e.attempt, e.suppressed]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
        [5, 0],
        [15, 9], // 10 s after attempt 5: attempts 6..14 were suppressed
        [25, 9],
      ],
    );
    stop.abort();
    await run;
  },
);

test('a component that keeps ending at once does not busy-loop', T, async () => {
  const clock = new ManualClock();
  let runs = 0;
  const quitter: Component = {
    name: 'quitter',
    run: (_signal, ctx) => {
      runs++;
      ctx.ready();
      return Promise.resolve();
    },
  };
  const { stop, run } = startManager(
    withRestarts(quitter, {
      on: 'always',
      backoff: { base: 1_000, max: 1_000, jitter: 0 },
      maxRestarts: 1_000,
    }),
    clock,
  );
  // Let the event loop spin freely for a while with no clock movement: only the first run happens.
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(runs, 1);
  await clock.advance(1_000);
  await eventually(() => runs === 2);
  stop.abort();
  await run;
});

test('status and the event stream count every restart, announced or not', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  const component = withRestarts(crashing(clock, runs), {
    backoff: { base: 1_000, max: 1_000, jitter: 0 },
    maxRestarts: 1_000,
    window: 1_000,
  });
  const { manager, events, stop, run } = startManager(component, clock);
  await eventually(() => runs.count === 1);
  // One crash a second of clock, each followed by a restart: more than a crash loop announces.
  for (let second = 1; second <= 12; second++) {
    await clock.advance(1_000);
    // Exact at every moment, not only when the next announced restart comes.
    assert.equal(manager.status()[0]?.restarts, runs.count);
    assert.equal(restarts(events).length, runs.count);
  }
  assert.equal(runs.count, 13);
  assert.ok(
    restarts(events).filter((e) => !e.announce).length > 0,
    'some restarts of this crash loop are not announced',
  );
  stop.abort();
  await run;
});

test('after a stable run, the next outage is announced from its first restart', T, async () => {
  const clock = new ManualClock();
  const runs = { count: 0 };
  // The 20th run lasts 5 s, longer than backoff.max: the crash loop after it is a new outage.
  const component = withRestarts(
    crashing(clock, runs, () => (runs.count === 20 ? 5_000 : 0)),
    { backoff: { base: 1_000, max: 1_000, jitter: 0 }, maxRestarts: 1_000, window: 1_000 },
  );
  const { events, stop, run } = startManager(component, clock);
  while (runs.count < 26) await clock.advance(1_000);
  const afterStableRun = restarts(events).slice(19, 24);
  assert.deepEqual(
    afterStableRun.map((e) => [e.attempt, e.announce]),
    [
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, true],
    ],
  );
  stop.abort();
  await run;
});
