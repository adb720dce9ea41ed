import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntilIdle } from '../../src/drain/idle.js';
import type { IdleWait, IdleWaitOptions } from '../../src/drain/idle.js';
import type { Warning } from '../../src/util/warning.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

// The timing rules of the drain, on a ManualClock: no test sleeps, every instant is exact.

/** A scripted connection count: `script(t)` at clock time t; records when it was asked. */
function scripted(clock: ManualClock, script: (t: number) => number | Error | 'hang') {
  const calls: number[] = [];
  // The signal is ignored on purpose: the wait must hold its bounds even against such a count.
  const count = (_signal: AbortSignal): Promise<number> => {
    calls.push(clock.now());
    const value = script(clock.now());
    if (value === 'hang') return new Promise<number>(() => undefined);
    if (value instanceof Error) return Promise.reject(value);
    return Promise.resolve(value);
  };
  return { count, calls };
}

/** Runs the wait to completion by advancing the clock in 10 ms steps; fails if it takes over 60 s. */
async function drive(clock: ManualClock, waiting: Promise<IdleWait>): Promise<IdleWait & { at: number }> {
  let result: IdleWait | undefined;
  void waiting.then((r) => (result = r));
  await clock.advance(0);
  while (result === undefined) {
    assert.ok(clock.now() < 60_000, 'the wait never ended');
    await clock.advance(10);
  }
  return { ...result, at: clock.now() };
}

function options(clock: ManualClock, extra: Partial<IdleWaitOptions> = {}): IdleWaitOptions {
  return { clock, signal: new AbortController().signal, startedAt: 0, min: 0, timeout: 10_000, ...extra };
}

test(
  'ends as idle at the first poll that reads zero, polling every 250 ms',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const { count, calls } = scripted(clock, (t) => (t < 700 ? 2 : 0));
    const result = await drive(clock, waitUntilIdle(count, options(clock)));
    assert.equal(result.outcome, 'idle');
    assert.equal(result.lastCount, 0);
    assert.deepEqual(calls, [0, 250, 500, 750]);
    assert.equal(result.at, 750);
    assert.equal(clock.pendingSleeps, 0);
  },
);

test(
  'a zero count before min does not end the wait; a fresh count is taken at min',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const { count, calls } = scripted(clock, () => 0);
    const result = await drive(clock, waitUntilIdle(count, options(clock, { min: 600 })));
    assert.equal(result.outcome, 'idle');
    assert.deepEqual(calls, [0, 250, 500, 600]);
    assert.equal(result.at, 600);

    // Negative control: without min the same count ends the wait at once.
    const again = new ManualClock();
    const immediate = scripted(again, () => 0);
    const quick = await drive(again, waitUntilIdle(immediate.count, options(again)));
    assert.deepEqual(immediate.calls, [0]);
    assert.equal(quick.outcome, 'idle');
  },
);

test('connections that come back before min keep the drain going', { timeout: 10_000 }, async () => {
  const clock = new ManualClock();
  const { count, calls } = scripted(clock, (t) => (t >= 500 && t < 900 ? 1 : 0));
  const result = await drive(clock, waitUntilIdle(count, options(clock, { min: 600 })));
  assert.deepEqual(calls, [0, 250, 500, 600, 850, 1100]);
  assert.equal(result.outcome, 'idle');
  assert.equal(result.at, 1100);
});

test('ends as timeout exactly at the timeout, with the last count', { timeout: 10_000 }, async () => {
  const clock = new ManualClock();
  const { count, calls } = scripted(clock, () => 3);
  const result = await drive(clock, waitUntilIdle(count, options(clock, { min: 200, timeout: 1000 })));
  assert.equal(result.outcome, 'timeout');
  assert.equal(result.lastCount, 3);
  assert.equal(result.at, 1000);
  assert.deepEqual(calls, [0, 200, 450, 700, 950]);
  assert.equal(clock.pendingSleeps, 0);
});

test(
  'a count that never answers (and ignores its signal) cannot hold the wait past the timeout',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const { count } = scripted(clock, () => 'hang');
    const result = await drive(
      clock,
      waitUntilIdle(count, options(clock, { timeout: 1000, probeTimeout: 60_000 })),
    );
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.at, 1000);
    assert.equal(result.lastCount, undefined);
  },
);

test(
  'a slow count is a failed probe after probeTimeout, and polling goes on',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const warnings: Warning[] = [];
    const { count, calls } = scripted(clock, (t) => (t === 0 ? 'hang' : 0));
    const result = await drive(
      clock,
      waitUntilIdle(count, options(clock, { probeTimeout: 300, warn: (w) => warnings.push(w) })),
    );
    assert.deepEqual(calls, [0, 550]);
    assert.equal(result.outcome, 'idle');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'DRAIN_PROBE_FAILED');
  },
);

test(
  'failed counts warn once per run of failures and end the wait after maxProbeFailures',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const warnings: Warning[] = [];
    const { count, calls } = scripted(clock, () => new Error('connection refused'));
    const result = await drive(
      clock,
      waitUntilIdle(count, options(clock, { maxProbeFailures: 3, warn: (w) => warnings.push(w) })),
    );
    assert.equal(result.outcome, 'probe-failed');
    assert.deepEqual(calls, [0, 250, 500]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? '', /connection refused/);

    // Without a limit the same probe keeps being polled until the timeout.
    const again = new ManualClock();
    const failing = scripted(again, (t) =>
      t < 600 ? new Error('refused') : t < 800 ? 4 : new Error('refused'),
    );
    const seen: Warning[] = [];
    const slow = await drive(
      again,
      waitUntilIdle(failing.count, options(again, { timeout: 1500, warn: (w) => seen.push(w) })),
    );
    assert.equal(slow.outcome, 'timeout');
    assert.equal(slow.lastCount, 4);
    assert.equal(seen.length, 2, 'one warning for each run of failures');
  },
);

test('aborting the signal skips the rest at once and leaves no timer', { timeout: 10_000 }, async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  const { count } = scripted(clock, () => 5);
  let result: IdleWait | undefined;
  void waitUntilIdle(count, options(clock, { signal: controller.signal })).then((r) => (result = r));
  await clock.advance(400);
  assert.equal(result, undefined);
  controller.abort(new Error('second signal'));
  await clock.advance(0);
  assert.deepEqual(result, { outcome: 'skipped', lastCount: 5 });
  assert.equal(clock.pendingSleeps, 0);
});

test(
  'min larger than timeout is capped at the timeout, which then ends the wait',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const { count } = scripted(clock, () => 0);
    const result = await drive(clock, waitUntilIdle(count, options(clock, { min: 5000, timeout: 800 })));
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.lastCount, 0);
    assert.equal(result.at, 800);
  },
);
