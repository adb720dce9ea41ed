/** Exponential backoff with jitter: pure arithmetic, so it is tested without any clock. */
export interface BackoffOptions {
  /** The first delay, in ms. @default 1_000 */
  base?: number;
  /** The longest delay, in ms; also how long a run must last to count as stable. @default 30_000 */
  max?: number;
  /** Each delay varies by up to ± this fraction of itself, so replicas do not retry in lockstep. @default 0.2 */
  jitter?: number;
}

/**
 * The delay before restart number `attempt` (1-based): `base · 2^(attempt-1)`, capped at `max`,
 * then spread by ± `jitter` of itself and clamped to `[0, max]`. `random` returns [0, 1).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const base = options.base ?? 1_000;
  const max = options.max ?? 30_000;
  const jitter = options.jitter ?? 0.2;
  // 2^(attempt-1) overflows to Infinity long after it passed max, which Math.min handles.
  const nominal = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  const spread = nominal * jitter * (2 * random() - 1);
  return Math.round(Math.min(max, Math.max(0, nominal + spread)));
}
