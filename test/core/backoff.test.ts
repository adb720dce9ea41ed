import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { backoffDelay } from '../../src/core/backoff.js';

test('backoff doubles from base up to max', () => {
  const opts = { base: 100, max: 1_000, jitter: 0 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 100].map((n) => backoffDelay(n, opts)),
    [100, 200, 400, 800, 1_000, 1_000, 1_000],
  );
});

test('jittered delays stay within ± jitter of the nominal delay and never exceed max', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2_000 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 1, max: 40 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 0.9999, noNaN: true }),
      (base, extra, attempt, jitter, r) => {
        const max = base + extra;
        const nominal = Math.min(max, base * 2 ** (attempt - 1));
        const delay = backoffDelay(attempt, { base, max, jitter }, () => r);
        return (
          delay <= max &&
          delay >= Math.floor(nominal * (1 - jitter)) &&
          delay <= Math.ceil(nominal * (1 + jitter))
        );
      },
    ),
  );
});
