import { runDrain, type DrainOptions, type DrainPlan, type DrainResult } from '../../drain/drain.js';
import type { Warning } from '../../util/warning.js';
import type { Clock } from '../../core/clock.js';
import { describe } from '../../core/errors.js';
import type { EnvoyAdmin } from './admin.js';

/** The admin calls of the drain recipe, exactly as sent. */
export const SHUTDOWN_DRAIN_QUERY = 'graceful&inboundonly';
export const DRAIN_FOREVER_QUERY = 'inboundonly&graceful&skip_exit';

export type EnvoyDrainTiming = Pick<DrainPlan, 'min' | 'timeout'> & Pick<DrainOptions, 'interval'>;

/** What the drain-forever request did. */
export type DrainForeverOutcome =
  | 'drained' // POST /drain_listeners?inboundonly&graceful&skip_exit answered 200
  | 'already-draining' // a shutdown drain or an earlier request had started it; nothing was sent
  | 'failed'; // the admin API did not answer or refused; a later shutdown will still drain

/**
 * The drain recipe for one Envoy, and the state that makes it happen once:
 * - {@link drain} (shutdown): POST /healthcheck/fail, POST /drain_listeners?graceful&inboundonly,
 *   then poll the active connections until zero (not before `min`, never after `timeout`). An
 *   admin API that does not answer is a warning and the drain ends at once: there is nothing to
 *   wait for from an Envoy that cannot be told to drain.
 * - {@link drainForever} (SIGUSR2, kuma-dp's preStop): POST
 *   /drain_listeners?inboundonly&graceful&skip_exit, at most once however often it is asked. After
 *   it succeeded a shutdown drain does nothing (`already-draining`), as in kuma-dp.
 */
export class EnvoyDrainer {
  readonly #admin: EnvoyAdmin;
  readonly #timing: EnvoyDrainTiming;
  /** `idle` until the first drain of either kind; `shutdown` from the moment a shutdown drain starts. */
  #state: 'idle' | 'forever' | 'shutdown' = 'idle';
  /** The one drain-forever request, once sent; every later caller shares its outcome. */
  #forever: Promise<DrainForeverOutcome> | undefined;

  constructor(admin: EnvoyAdmin, timing: EnvoyDrainTiming) {
    this.#admin = admin;
    this.#timing = timing;
  }

  /**
   * Drains for a shutdown. Never rejects; `signal` aborting (the second Ctrl-C) ends it at once as
   * `skipped`. Warnings go to `warn`.
   */
  async drain(
    signal: AbortSignal,
    options: { readonly clock: Clock; readonly warn?: (warning: Warning) => void },
  ): Promise<DrainResult> {
    const { clock } = options;
    const startedAt = clock.now();
    const already = (): DrainResult => ({
      outcome: 'already-draining',
      durationMs: clock.now() - startedAt,
      lastCount: undefined,
    });
    if (this.#state === 'shutdown') return already();
    if (this.#forever) {
      // A drain-forever request is in flight or done: wait for its answer. If it failed, this
      // shutdown drains after all, unless another shutdown drain took over in the meantime.
      if ((await this.#forever) !== 'failed' || this.#isShutdown()) return already();
    }
    this.#state = 'shutdown';
    return runDrain(
      {
        trigger: async (bound) => {
          await this.#admin.failHealthchecks(bound);
          await this.#admin.drainListeners(SHUTDOWN_DRAIN_QUERY, bound);
        },
        connections: (bound) => this.#admin.activeConnections(bound),
        min: this.#timing.min ?? 0,
        timeout: this.#timing.timeout,
        // Stats that stop answering mid-drain mean Envoy is gone or wedged: waiting is pointless.
        maxProbeFailures: 2,
      },
      { clock, signal, interval: this.#timing.interval, warn: options.warn },
    );
  }

  /**
   * Starts a drain that never ends by itself (listeners keep running, Envoy keeps serving what it
   * has). Sends the request at most once: later and concurrent calls get the first call's outcome,
   * or `already-draining` when a shutdown drain came first. Never rejects.
   */
  drainForever(warn?: (warning: Warning) => void): Promise<DrainForeverOutcome> {
    if (this.#forever) return this.#forever;
    if (this.#state === 'shutdown') return Promise.resolve('already-draining');
    this.#state = 'forever';
    this.#forever = this.#admin.drainListeners(DRAIN_FOREVER_QUERY).then(
      () => 'drained' as const,
      (error: unknown) => {
        warn?.({
          code: 'ENVOY_DRAIN_FOREVER_FAILED',
          message: `drain-forever request failed; a shutdown will still drain: ${describe(error)}`,
        });
        return 'failed' as const;
      },
    );
    return this.#forever;
  }

  /** Reads the state afresh after an await (TypeScript would keep the narrowed value). */
  #isShutdown(): boolean {
    return this.#state === 'shutdown';
  }
}
