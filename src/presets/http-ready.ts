import { httpRequest } from '../drain/http.js';
import { redactUrl } from '../drain/redact.js';
import type { Clock } from '../runtime/clock.js';
import { CorralError, describe, formatMs } from '../runtime/errors.js';

/** An HTTP readiness endpoint did not answer 200 before the start-up deadline. */
export class NotReadyError extends CorralError {
  constructor(url: string, timeoutMs: number, lastAnswer: string) {
    super(
      'NOT_READY',
      `GET ${redactUrl(url)} did not answer 200 within ${formatMs(timeoutMs)} (last: ${lastAnswer})`,
    );
  }
}

export interface HttpReadyOptions {
  readonly clock: Clock;
  /** Aborting it ends the wait with `signal.reason`. */
  readonly signal: AbortSignal;
  /** @default 200 */
  readonly interval?: number;
  /** Give up after this long; without it, wait until `signal` aborts. */
  readonly timeout?: number;
  /** One request's limit. @default 2000 */
  readonly requestTimeout?: number;
}

/** Polls GET `url` until it answers 200 (CoreDNS's `ready` plugin); refused or 503 mean "not yet". */
export async function waitForHttpOk(url: string, options: HttpReadyOptions): Promise<void> {
  const { clock, signal } = options;
  const interval = options.interval ?? 200;
  const startedAt = clock.now();
  for (;;) {
    signal.throwIfAborted();
    let lastAnswer: string;
    try {
      const bound = AbortSignal.any([signal, AbortSignal.timeout(options.requestTimeout ?? 2000)]);
      const { status } = await httpRequest({ url, signal: bound, maxBodyBytes: 65_536 });
      if (status === 200) return;
      lastAnswer = `status ${status}`;
    } catch (error) {
      signal.throwIfAborted();
      lastAnswer = describe(error);
    }
    const elapsed = clock.now() - startedAt;
    if (options.timeout !== undefined && elapsed >= options.timeout) {
      throw new NotReadyError(url, options.timeout, lastAnswer);
    }
    const wait = options.timeout === undefined ? interval : Math.min(interval, options.timeout - elapsed);
    await clock.sleep(wait, signal);
  }
}
