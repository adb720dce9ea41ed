/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts, whichever
 * comes first. Bounds a wait on work that may ignore its signal. What the work rejects with is
 * passed through untouched: callers inspect it.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The reason for aborting internal waits whose owner is done (a stop is over, a run has settled).
 * A fixed one, because `abort()` without a reason builds a DOMException with a stack trace, and
 * that would happen on every run and every stop.
 */
export const FINISHED = new Error('finished');

/**
 * Reads `signal.aborted` afresh. TypeScript narrows `signal.aborted` to `false` after an early
 * return and does not see that an await in between may have changed it; this call it cannot narrow.
 */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
