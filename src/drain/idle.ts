import type { Clock } from '../core/clock.js';
import { describe } from '../core/errors.js';
import type { Warning } from '../util/warning.js';
import { isAborted, raceAbort } from '../util/abort.js';
import { deadline } from './deadline.js';

/** Reads the number of active connections; rejects when it cannot tell. Must honour `signal`. */
export type ConnectionCounter = (signal: AbortSignal) => Promise<number>;

export interface IdleWaitOptions {
  readonly clock: Clock;
  /** Aborting it ends the wait at once with `skipped`. */
  readonly signal: AbortSignal;
  /** `clock.now()` when the drain began; `min` and `timeout` count from here, not from the first poll. */
  readonly startedAt: number;
  /** The wait never ends as idle before `startedAt + min`. */
  readonly min: number;
  /** The wait always ends by `startedAt + timeout`. */
  readonly timeout: number;
  /** @default 250 */
  readonly interval?: number;
  /** One count may take this long before it counts as a failed probe. @default 2000 */
  readonly probeTimeout?: number;
  /**
   * After this many failed counts in a row the wait ends with `probe-failed`; until then a failed
   * count only warns (once per run of failures) and polling goes on.
   * @default Infinity
   */
  readonly maxProbeFailures?: number;
  readonly warn?: (warning: Warning) => void;
}

export type IdleOutcome = 'idle' | 'timeout' | 'skipped' | 'probe-failed';

export interface IdleWait {
  readonly outcome: IdleOutcome;
  /** The last count read successfully, if any. */
  readonly lastCount: number | undefined;
}

/**
 * Polls `count` every `interval` until it reads zero at or after `min` (`idle`), `timeout` passes
 * (`timeout`), `signal` aborts (`skipped`) or the probe fails `maxProbeFailures` times in a row.
 * A zero read before `min` does not end the wait: a fresh count is taken at `min`, because new
 * connections may still arrive while a proxy drains.
 */
export async function waitUntilIdle(count: ConnectionCounter, options: IdleWaitOptions): Promise<IdleWait> {
  const { clock, signal, startedAt, warn } = options;
  const interval = options.interval ?? 250;
  const probeTimeout = options.probeTimeout ?? 2000;
  const maxProbeFailures = options.maxProbeFailures ?? Infinity;
  const deadlineAt = startedAt + options.timeout;
  const minAt = startedAt + Math.min(options.min, options.timeout);
  let lastCount: number | undefined;
  let failures = 0;

  for (;;) {
    if (signal.aborted) return { outcome: 'skipped', lastCount };
    const before = clock.now();
    if (before >= deadlineAt) return { outcome: 'timeout', lastCount };

    // One count, bounded by the skip signal, the drain timeout and the probe's own timeout.
    const bound = deadline(clock, Math.min(probeTimeout, deadlineAt - before), signal);
    let current: number | undefined;
    try {
      current = await raceAbort(count(bound.signal), bound.signal);
      failures = 0;
      lastCount = current;
    } catch (error) {
      if (isAborted(signal)) return { outcome: 'skipped', lastCount };
      if (clock.now() >= deadlineAt) return { outcome: 'timeout', lastCount };
      failures += 1;
      if (failures === 1) {
        warn?.({
          code: 'DRAIN_PROBE_FAILED',
          message: `connections probe failed, ${maxProbeFailures > 1 ? 'still polling' : 'ending the drain'}: ${describe(error)}`,
        });
      }
      if (failures >= maxProbeFailures) return { outcome: 'probe-failed', lastCount };
    } finally {
      bound.dispose();
    }

    const now = clock.now();
    if (current === 0 && now >= minAt) return { outcome: 'idle', lastCount };
    if (now >= deadlineAt) return { outcome: 'timeout', lastCount };
    // Wake for the next poll, or earlier for a fresh count exactly at `min`, never past the deadline.
    let wakeAt = now + interval;
    if (now < minAt) wakeAt = Math.min(wakeAt, minAt);
    wakeAt = Math.min(wakeAt, deadlineAt);
    try {
      await clock.sleep(wakeAt - now, signal);
    } catch {
      return { outcome: 'skipped', lastCount };
    }
  }
}
