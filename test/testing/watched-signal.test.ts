import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { WatchedSignal } from '../../src/testing/watched-signal.js';

test('a watched signal counts every way of looking at it, and aborting it is not one', () => {
  const ways: [string, (signal: AbortSignal) => unknown][] = [
    ['aborted', (signal) => signal.aborted],
    ['reason', (signal) => signal.reason as unknown],
    ['throwIfAborted', (signal) => signal.throwIfAborted()],
    ['onabort', (signal) => (signal.onabort = () => undefined)],
    ['abort listener', (signal) => signal.addEventListener('abort', () => undefined)],
    ['AbortSignal.any', (signal) => AbortSignal.any([signal])],
  ];
  for (const [way, look] of ways) {
    const watched = new WatchedSignal();
    assert.equal(watched.looked, false, way);
    look(watched.signal);
    assert.equal(watched.looked, true, way);
  }
  const untouched = new WatchedSignal();
  untouched.signal.addEventListener('other', () => undefined);
  untouched.abort(new Error('stop'));
  assert.equal(untouched.looked, false);
});

test("a watched signal still works with Node's own APIs, with the reason it was aborted with", async () => {
  const watched = new WatchedSignal();
  const reason = new Error('stop');
  const viaOnce = once(watched.signal, 'abort');
  const viaAny = once(AbortSignal.any([watched.signal]), 'abort');
  const viaTimer = delay(3_600_000, undefined, { signal: watched.signal });
  let handled: unknown;
  watched.signal.onabort = () => (handled = watched.signal.reason as unknown);
  watched.abort(reason);
  await viaOnce;
  await viaAny;
  await assert.rejects(viaTimer, { name: 'AbortError', cause: reason });
  assert.equal(handled, reason);
  assert.equal(watched.signal.aborted, true);
  assert.throws(
    () => watched.signal.throwIfAborted(),
    (error) => error === reason,
  );
});
