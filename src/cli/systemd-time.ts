/**
 * systemd's time spans (systemd.time(7)), as unit files write them: `90` (seconds), `90s`,
 * `1min 30s`, `1min30s`, `1.5h`, `infinity`. Units are case-sensitive (`m` is a minute, `M` a
 * month) and a number without one is in seconds.
 */

const US_PER_S = 1_000_000;

/** Every unit systemd accepts, with its aliases, in microseconds (a month and a year are averages). */
const UNITS: Readonly<Record<string, number>> = {
  usec: 1,
  us: 1,
  μs: 1, // GREEK SMALL LETTER MU
  µs: 1, // MICRO SIGN
  msec: 1_000,
  ms: 1_000,
  seconds: US_PER_S,
  second: US_PER_S,
  sec: US_PER_S,
  s: US_PER_S,
  minutes: 60 * US_PER_S,
  minute: 60 * US_PER_S,
  min: 60 * US_PER_S,
  m: 60 * US_PER_S,
  hours: 3_600 * US_PER_S,
  hour: 3_600 * US_PER_S,
  hr: 3_600 * US_PER_S,
  h: 3_600 * US_PER_S,
  days: 86_400 * US_PER_S,
  day: 86_400 * US_PER_S,
  d: 86_400 * US_PER_S,
  weeks: 604_800 * US_PER_S,
  week: 604_800 * US_PER_S,
  w: 604_800 * US_PER_S,
  months: 2_629_800 * US_PER_S,
  month: 2_629_800 * US_PER_S,
  M: 2_629_800 * US_PER_S,
  years: 31_557_600 * US_PER_S,
  year: 31_557_600 * US_PER_S,
  y: 31_557_600 * US_PER_S,
};

/**
 * One part of a span: a number, then optionally a unit, ending where the next part (or the text)
 * does. Longer units are tried first, so that `ms` is not read as `m` and a stray `s`.
 */
const PART = new RegExp(
  `\\s*(\\d+(?:\\.\\d+)?)\\s*(${Object.keys(UNITS)
    .sort((a, b) => b.length - a.length)
    .join('|')})?(?=\\s|\\d|$)`,
  'uy',
);

/**
 * The span `text` in milliseconds (`Infinity` for `infinity`), or undefined when it is not one.
 * Note that some settings read `0` as "no timeout": that is for the caller to decide.
 */
export function parseSystemdTime(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === 'infinity') return Infinity;
  if (trimmed === '') return undefined;
  let us = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < trimmed.length) {
    const match = PART.exec(trimmed);
    if (!match) return undefined;
    us += Number(match[1]) * (UNITS[match[2] ?? 's'] ?? US_PER_S);
  }
  return us / 1_000;
}
