import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_DURATION_MS, parseDuration } from '../../src/stackfile/duration.js';

test('durations with a unit, sums and fractions', { timeout: 10_000 }, () => {
  const cases: [string, number][] = [
    ['0s', 0],
    ['1ms', 1],
    ['500ms', 500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0.0004s', 0],
    ['596h', 596 * 3_600_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('anything else is not a duration', { timeout: 10_000 }, () => {
  for (const text of [
    '',
    '10',
    '10 s',
    ' 10s',
    '10sec',
    's',
    '-1s',
    '1.s',
    '.5s',
    '1e3ms',
    '10S',
    '1d',
    '1m 30s',
  ]) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

test("the longest duration is Node's timer limit", { timeout: 10_000 }, () => {
  assert.equal(MAX_DURATION_MS, 2_147_483_647);
  assert.ok((parseDuration('597h') ?? 0) > MAX_DURATION_MS);
});
