import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/testing/manual-clock.js';

test('ManualClock fires sleeps in time order and only when advanced past them', async () => {
  const clock = new ManualClock();
  const order: number[] = [];
  void clock.sleep(20).then(() => order.push(20));
  void clock.sleep(10).then(() => order.push(10));
  await clock.advance(15);
  assert.deepEqual(order, [10]);
  await clock.advance(5);
  assert.deepEqual(order, [10, 20]);
  assert.equal(clock.now(), 20);
});

test('ManualClock sleep rejects with the reason when aborted and leaves nothing pending', async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  const sleeping = clock.sleep(1000, controller.signal);
  controller.abort(new Error('stop'));
  await assert.rejects(sleeping, /stop/);
  assert.equal(clock.pendingSleeps, 0);
});
