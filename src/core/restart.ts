import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Component } from './component.js';
import { RestartLimitError } from './errors.js';

export interface RestartOptions {
  backoff?: BackoffOptions;
  /** Give up for good (failing the run) after this many restarts within `window`. @default 5 */
  maxRestarts?: number;
  /** The period of the restart intensity, in ms (Erlang/OTP's `period`). @default 60_000 */
  window?: number;
  /**
   * `failure` restarts only a run that rejected; `always` also restarts one that returned on its
   * own (still with backoff, so a component that keeps ending at once never busy-loops).
   * @default 'failure'
   */
  on?: 'failure' | 'always';
  /** @default Math.random */
  random?: () => number;
}

/** In a crash loop, announce the first few restarts, then at most one per interval. */
const ALWAYS_ANNOUNCED = 5;
const ANNOUNCE_INTERVAL_MS = 10_000;

/**
 * Wraps a component so that a failing run is restarted with exponential backoff and jitter
 * (Kuma's "resilient" component). The attempt count resets after a run that lasted longer than
 * `backoff.max`. A stop interrupts a backoff wait at once, and the wrapper settles only after its
 * inner run has finished. Every restart is a `component.restarting` event, so counts are exact;
 * in a crash loop only some are marked `announce` (the first few of an outage, then one per
 * interval, with a count of the others), so that logs stay readable.
 */
export function withRestarts(component: Component, options: RestartOptions = {}): Component {
  const maxRestarts = options.maxRestarts ?? 5;
  const window = options.window ?? 60_000;
  const stableAfter = options.backoff?.max ?? 30_000;
  const restartOn = options.on ?? 'failure';
  return {
    ...component,
    async run(signal, ctx) {
      const { clock } = ctx;
      /** Start times of the restarts still inside the window. */
      let restarts: number[] = [];
      let attempt = 0;
      let announced = 0;
      let suppressed = 0;
      let lastAnnouncement = -Infinity;
      for (;;) {
        const startedAt = clock.now();
        let failure: { error: unknown } | undefined;
        try {
          await component.run(signal, ctx);
        } catch (error) {
          failure = { error };
        }
        // A stop was requested: the inner run has finished; report its outcome as it is.
        if (signal.aborted) {
          if (failure) throw failure.error;
          return;
        }
        if (!failure && restartOn === 'failure') return;
        const now = clock.now();
        if (now - startedAt > stableAfter) {
          // A stable run ended the outage: the next one is a new outage, announced from its start.
          attempt = 0;
          announced = 0;
          lastAnnouncement = -Infinity;
        }
        restarts = restarts.filter((t) => now - t < window);
        if (restarts.length >= maxRestarts) {
          throw new RestartLimitError(
            component.name,
            restarts.length,
            window,
            failure?.error ?? 'ended on its own',
          );
        }
        restarts.push(now);
        attempt++;
        const delayMs = backoffDelay(attempt, options.backoff, options.random);
        const announce = announced < ALWAYS_ANNOUNCED || now - lastAnnouncement >= ANNOUNCE_INTERVAL_MS;
        ctx.emit({
          type: 'component.restarting',
          component: component.name,
          attempt,
          delayMs,
          error: failure?.error,
          announce,
          suppressed: announce ? suppressed : 0,
        });
        if (announce) {
          announced++;
          suppressed = 0;
          lastAnnouncement = now;
        } else {
          suppressed++;
        }
        try {
          await clock.sleep(delayMs, signal);
        } catch {
          return; // stopped during the backoff wait: nothing is running, so we are done at once
        }
      }
    },
  };
}
