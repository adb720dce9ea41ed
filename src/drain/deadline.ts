import type { Clock } from '../core/clock.js';

/** Why a {@link Deadline} signal aborted when its own time ran out (not a parent's abort). */
export class DeadlineReached extends Error {
  constructor(readonly afterMs: number) {
    super(`deadline of ${afterMs}ms reached`);
    this.name = 'DeadlineReached';
  }
}

/** An AbortSignal that aborts after a delay on a given clock, or as soon as any parent aborts. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Drops the timer and the parent listeners; call it when the guarded work is done. Idempotent. */
  dispose(): void;
}

/**
 * Starts a deadline of `ms` on `clock`. When it passes, `signal` aborts with {@link DeadlineReached};
 * when a parent aborts first, `signal` aborts with the parent's reason. Taking the time from a
 * Clock (not `AbortSignal.timeout`) is what lets unit tests drive drains with a ManualClock.
 */
export function deadline(clock: Clock, ms: number, ...parents: (AbortSignal | undefined)[]): Deadline {
  const controller = new AbortController();
  const timer = new AbortController();
  const live = parents.filter((p): p is AbortSignal => p !== undefined);
  const onParentAbort = (event: Event): void => controller.abort((event.target as AbortSignal).reason);
  const dispose = (): void => {
    timer.abort();
    for (const parent of live) parent.removeEventListener('abort', onParentAbort);
  };
  const already = live.find((p) => p.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose };
  }
  for (const parent of live) parent.addEventListener('abort', onParentAbort, { once: true });
  // A sleep that rejects was disposed of before it fired: nothing to do.
  clock.sleep(Math.max(0, ms), timer.signal).then(
    () => {
      controller.abort(new DeadlineReached(ms));
      dispose();
    },
    () => undefined,
  );
  controller.signal.addEventListener('abort', dispose, { once: true });
  return { signal: controller.signal, dispose };
}
