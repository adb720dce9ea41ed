import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSystemdTime } from '../../src/cli/systemd-time.js';

test('systemd time spans: plain seconds, every unit and alias, sums, fractions, infinity', () => {
  const cases: [string, number][] = [
    ['90', 90_000],
    ['90s', 90_000],
    [' 90 s ', 90_000],
    ['1min 30s', 90_000],
    ['1min30s', 90_000],
    ['1min 30', 90_000],
    ['2m', 120_000],
    ['1.5h', 5_400_000],
    ['1 hour 2 minutes 3 seconds', 3_723_000],
    ['500ms', 500],
    ['500msec', 500],
    ['250000us', 250],
    ['250000usec', 250],
    ['1000µs', 1],
    ['1000μs', 1],
    ['1sec', 1_000],
    ['1second', 1_000],
    ['2hr', 7_200_000],
    ['1d', 86_400_000],
    ['1day 1days', 172_800_000],
    ['1w', 604_800_000],
    ['1week', 604_800_000],
    ['1M', 2_629_800_000],
    ['1month', 2_629_800_000],
    ['1y', 31_557_600_000],
    ['1years', 31_557_600_000],
    ['0', 0],
    ['infinity', Infinity],
  ];
  for (const [text, ms] of cases) assert.equal(parseSystemdTime(text), ms, text);
});

test('systemd time spans: what systemd rejects is not a span', () => {
  for (const text of ['', ' ', 'abc', '5x', '1mo', '-5s', '5 s x', '1.s', 'Infinity', '1S', '5 min utes'])
    assert.equal(parseSystemdTime(text), undefined, JSON.stringify(text));
});
