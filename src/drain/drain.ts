import { CorralError, describe } from '../core/errors.js';
import { isAborted, raceAbort } from '../util/abort.js';
import { deadline } from './deadline.js';
import { waitUntilIdle, type ConnectionCounter, type IdleOutcome, type IdleWaitOptions } from './idle.js';

/**
 * The drain mechanism: start the drain, then wait until the component is idle, within bounds.
 * What "start" and "idle" mean is the plan's business (a signal and an HTTP probe for a generic
 * component, admin API calls for Envoy); the timing rules live here, once.
 */
export interface DrainPlan {
  /** Starts the drain; rejects when it could not. Omitted: nothing is sent. */
  readonly trigger?: (signal: AbortSignal) => Promise<void>;
  /** Reads the active connections. Omitted: the drain simply waits `min`. */
  readonly connections?: ConnectionCounter;
  /** Milliseconds the drain lasts at least (unless skipped or the trigger failed). @default 0 */
  readonly min?: number;
  /** Milliseconds the drain lasts at most, trigger included. */
  readonly timeout: number;
  /** See {@link IdleWaitOptions.maxProbeFailures}. @default Infinity */
  readonly maxProbeFailures?: number;
}

/**
 * `signal` aborting skips whatever is left of the drain (the CLI's second signal), and `warn`
 * receives a warning for a failed trigger or probe; the rest as in {@link IdleWaitOptions}.
 */
export interface DrainOptions extends Pick<
  IdleWaitOptions,
  'clock' | 'signal' | 'interval' | 'probeTimeout' | 'warn'
> {
  /** Longest wait for the trigger, also capped by `timeout`. @default 5000 */
  readonly triggerTimeout?: number;
}

/**
 * How a drain ended:
 * - `idle`: the connections reached zero (at or after `min`);
 * - `timeout`: `timeout` passed first;
 * - `waited`: no connections probe, so the drain waited `min`;
 * - `skipped`: the signal aborted (second Ctrl-C) before anything else;
 * - `trigger-failed`: the drain could not be started, so there was nothing to wait for;
 * - `probe-failed`: the probe failed `maxProbeFailures` times in a row;
 * - `already-draining`: an earlier drain-only request (SIGUSR2) drained it; nothing was done.
 */
export type DrainOutcome = IdleOutcome | 'waited' | 'trigger-failed' | 'already-draining';

export interface DrainResult {
  readonly outcome: DrainOutcome;
  /** From the call until the drain ended, on the given clock. */
  readonly durationMs: number;
  /** The last connection count read, if any was. */
  readonly lastCount: number | undefined;
}

/**
 * Runs a drain: the trigger, then either the connections probe every `interval` until zero (not
 * before `min`, never after `timeout`) or a plain wait of `min`. Never rejects: failures become a
 * warning and an outcome, because a drain that goes wrong must still let the stop proceed.
 */
export async function runDrain(plan: DrainPlan, options: DrainOptions): Promise<DrainResult> {
  const { clock, signal, warn } = options;
  const startedAt = clock.now();
  const timeout = Math.max(0, plan.timeout);
  const min = Math.min(Math.max(0, plan.min ?? 0), timeout);
  const end = (outcome: DrainOutcome, lastCount?: number): DrainResult => ({
    outcome,
    durationMs: clock.now() - startedAt,
    lastCount,
  });
  if (signal.aborted) return end('skipped');

  if (plan.trigger) {
    const bound = deadline(clock, Math.min(options.triggerTimeout ?? 5000, timeout), signal);
    try {
      await raceAbort(plan.trigger(bound.signal), bound.signal);
    } catch (error) {
      if (isAborted(signal)) return end('skipped');
      warn?.({
        code: error instanceof CorralError ? (error as CorralError).code : 'DRAIN_TRIGGER_FAILED',
        message: `drain trigger failed, stopping without waiting: ${describe(error)}`,
      });
      return end('trigger-failed');
    } finally {
      bound.dispose();
    }
  }

  if (!plan.connections) {
    try {
      await clock.sleep(Math.max(0, startedAt + min - clock.now()), signal);
    } catch {
      return end('skipped');
    }
    return end('waited');
  }

  const idle = await waitUntilIdle(plan.connections, {
    ...options,
    startedAt,
    min,
    timeout,
    maxProbeFailures: plan.maxProbeFailures,
  });
  return end(idle.outcome, idle.lastCount);
}
