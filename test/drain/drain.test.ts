import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDrain } from '../../src/drain/drain.js';
import type { DrainOptions, DrainPlan, DrainResult } from '../../src/drain/drain.js';
import type { Warning } from '../../src/util/warning.js';
import { CorralError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/testing/manual-clock.js';

// runDrain's sequencing on a ManualClock: trigger first, then the wait; failures end it early.

async function drive(clock: ManualClock, running: Promise<DrainResult>): Promise<DrainResult> {
  let result: DrainResult | undefined;
  void running.then((r) => (result = r));
  await clock.advance(0);
  while (result === undefined) {
    assert.ok(clock.now() < 60_000, 'the drain never ended');
    await clock.advance(10);
  }
  return result;
}

function options(clock: ManualClock, extra: Partial<DrainOptions> = {}): DrainOptions {
  return { clock, signal: new AbortController().signal, ...extra };
}

test(
  'without a probe the drain sends the trigger once and waits exactly min',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const triggered: number[] = [];
    const plan: DrainPlan = {
      trigger: () => {
        triggered.push(clock.now());
        return Promise.resolve();
      },
      min: 1500,
      timeout: 30_000,
    };
    const result = await drive(clock, runDrain(plan, options(clock)));
    assert.deepEqual(triggered, [0]);
    assert.deepEqual(result, { outcome: 'waited', durationMs: 1500, lastCount: undefined });
  },
);

test(
  'the trigger comes before the first count; min counts from the start of the trigger',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const order: string[] = [];
    const plan: DrainPlan = {
      trigger: async () => {
        order.push(`trigger@${clock.now()}`);
        await clock.sleep(300); // a slow drain call
      },
      connections: () => {
        order.push(`count@${clock.now()}`);
        return Promise.resolve(0);
      },
      min: 500,
      timeout: 5000,
    };
    const result = await drive(clock, runDrain(plan, options(clock)));
    assert.deepEqual(order, ['trigger@0', 'count@300', 'count@500']);
    assert.equal(result.outcome, 'idle');
    assert.equal(result.durationMs, 500);
  },
);

test(
  'a failed trigger warns and ends the drain at once, whatever min says',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const warnings: Warning[] = [];
    let counted = 0;
    const plan: DrainPlan = {
      trigger: () =>
        Promise.reject(new CorralError('ADMIN_DOWN', 'POST http://***@127.0.0.1:1/drain failed')),
      connections: () => Promise.resolve(++counted),
      min: 5000,
      timeout: 30_000,
    };
    const result = await drive(clock, runDrain(plan, options(clock, { warn: (w) => warnings.push(w) })));
    assert.deepEqual(result, { outcome: 'trigger-failed', durationMs: 0, lastCount: undefined });
    assert.equal(counted, 0, 'no probe after a failed trigger');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'ADMIN_DOWN');
  },
);

test(
  'a trigger that never answers is bounded by triggerTimeout and by timeout',
  { timeout: 10_000 },
  async () => {
    const hang = (): Promise<void> => new Promise<void>(() => undefined);
    const clock = new ManualClock();
    const byTrigger = await drive(
      clock,
      runDrain({ trigger: hang, timeout: 30_000 }, options(clock, { triggerTimeout: 700 })),
    );
    assert.equal(byTrigger.outcome, 'trigger-failed');
    assert.equal(byTrigger.durationMs, 700);

    const other = new ManualClock();
    const byTimeout = await drive(other, runDrain({ trigger: hang, timeout: 400 }, options(other)));
    assert.equal(byTimeout.outcome, 'trigger-failed');
    assert.equal(byTimeout.durationMs, 400);
    assert.equal(other.pendingSleeps, 0);
  },
);

test('an aborted signal skips everything, before or during the trigger', { timeout: 10_000 }, async () => {
  const clock = new ManualClock();
  let triggers = 0;
  const before = new AbortController();
  before.abort(new Error('second signal'));
  const plan: DrainPlan = {
    trigger: () => {
      triggers++;
      return Promise.resolve();
    },
    min: 1000,
    timeout: 5000,
  };
  const skipped = await runDrain(plan, options(clock, { signal: before.signal }));
  assert.equal(skipped.outcome, 'skipped');
  assert.equal(triggers, 0);

  const during = new AbortController();
  const slow: DrainPlan = { trigger: (signal) => clock.sleep(10_000, signal), timeout: 20_000 };
  let result: DrainResult | undefined;
  void runDrain(slow, options(clock, { signal: during.signal })).then((r) => (result = r));
  await clock.advance(250);
  during.abort(new Error('second signal'));
  await clock.advance(0);
  assert.equal(result?.outcome, 'skipped');
  assert.equal(result.durationMs, 250);
  assert.equal(clock.pendingSleeps, 0);
});

test('with a probe the result carries the outcome of the wait', { timeout: 10_000 }, async () => {
  const clock = new ManualClock();
  const plan: DrainPlan = {
    connections: () => Promise.resolve(clock.now() < 1000 ? 2 : 0),
    min: 100,
    timeout: 5000,
  };
  const result = await drive(clock, runDrain(plan, options(clock)));
  assert.deepEqual(result, { outcome: 'idle', durationMs: 1100, lastCount: 0 });
});
