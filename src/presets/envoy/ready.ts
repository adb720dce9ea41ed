import type { Clock } from '../../core/clock.js';
import { CorralError, describe, formatMs } from '../../core/errors.js';
import { formatAdminAddress, type EnvoyAdmin } from './admin.js';

/** Envoy's /ready did not say LIVE before the start-up deadline. */
export class EnvoyNotReadyError extends CorralError<'ENVOY_NOT_READY'> {
  readonly lastAnswer: string;

  constructor(admin: EnvoyAdmin, timeoutMs: number, lastAnswer: string) {
    super(
      'ENVOY_NOT_READY',
      `Envoy's GET /ready at ${formatAdminAddress(admin.address)} did not answer LIVE within ${formatMs(timeoutMs)} (last: ${lastAnswer})`,
    );
    this.lastAnswer = lastAnswer;
  }
}

export interface EnvoyReadyOptions {
  readonly clock: Clock;
  /** Aborting it ends the wait with `signal.reason` (the child exited, or a stop came first). */
  readonly signal: AbortSignal;
  /** @default 200 */
  readonly interval?: number;
  /** Give up after this long; without it, wait as long as Envoy takes (it may wait for its control plane). */
  readonly timeout?: number;
}

/**
 * Polls GET /ready until it answers 200 (LIVE). A refused connection or a 503 (PRE_INITIALIZING,
 * INITIALIZING) just means "not yet". Rejects with {@link EnvoyNotReadyError} after `timeout`.
 */
export async function waitUntilLive(admin: EnvoyAdmin, options: EnvoyReadyOptions): Promise<void> {
  const { clock, signal } = options;
  const interval = options.interval ?? 200;
  const startedAt = clock.now();
  for (;;) {
    signal.throwIfAborted();
    let lastAnswer: string;
    try {
      const readiness = await admin.ready(signal);
      if (readiness.live) return;
      lastAnswer = readiness.state;
    } catch (error) {
      signal.throwIfAborted();
      lastAnswer = describe(error);
    }
    const elapsed = clock.now() - startedAt;
    if (options.timeout !== undefined && elapsed >= options.timeout) {
      throw new EnvoyNotReadyError(admin, options.timeout, lastAnswer);
    }
    const wait = options.timeout === undefined ? interval : Math.min(interval, options.timeout - elapsed);
    await clock.sleep(wait, signal);
  }
}
