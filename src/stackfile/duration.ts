/**
 * Durations in stack files are strings with a unit: `500ms`, `10s`, `1m`, `1h`, or a sum of such
 * parts (`1m30s`, `1.5s`). A bare number is rejected on purpose: `timeout: 10` could mean seconds or
 * milliseconds, and guessing wrong by a factor of 1000 is the kind of bug a stack file must not hide.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** The whole text: one or more `<number><unit>` parts, nothing else. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * The longest duration a stack file may give. Node's timers treat any delay above 2^31-1 ms as 1 ms,
 * so a longer timeout would fire at once instead of never.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** `"1m30s"` → `90000`; `undefined` when the text is not a duration. Rounds to whole milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Math.round(ms);
}
