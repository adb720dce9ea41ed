import type { Clock } from '../core/clock.js';

/** Why a {@link Deadline} signal aborted when its own time ran out (not a parent's abort). */
export class DeadlineReached extends Error {
  constructor(readonly afterMs: number) {
    super(`deadline of ${afterMs}ms reached`);
    this.name = 'DeadlineReached';
  }
}

/** An AbortSignal that aborts after a delay on a given clock, or as soon as its parent aborts. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Drops the timer; call it when the guarded work is done. Idempotent. */
  dispose(): void;
}

/**
 * Starts a deadline of `ms` on `clock`. When it passes, `signal` aborts with {@link DeadlineReached};
 * when the parent aborts first, `signal` aborts with the parent's reason. Taking the time from a
 * Clock (not `AbortSignal.timeout`) is what lets unit tests drive drains with a ManualClock.
 */
export function deadline(clock: Clock, ms: number, parent: AbortSignal): Deadline {
  const expired = new AbortController();
  const disposed = new AbortController();
  const signal = AbortSignal.any([parent, expired.signal]);
  // Rejects, with nothing left to do, when the parent aborts or the deadline is disposed of first.
  clock.sleep(Math.max(0, ms), AbortSignal.any([signal, disposed.signal])).then(
    () => expired.abort(new DeadlineReached(ms)),
    () => undefined,
  );
  return { signal, dispose: () => disposed.abort() };
}
