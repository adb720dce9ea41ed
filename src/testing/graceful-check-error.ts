import { CorralError } from '../core/errors.js';
import type { OpenResources } from './resources.js';

/**
 * What {@link checkGraceful} found wrong, one code per kind of misbehaviour:
 * - `FAILED_TO_START`: `run` threw (synchronously too) or rejected before the component was ready;
 * - `NOT_READY`: not ready within `startWithin`;
 * - `ENDED_EARLY`: `run` settled on its own, before it was asked to stop;
 * - `REJECTED_ON_STOP`: asked to stop, `run` rejected with an error of its own (rejecting with the
 *   signal's reason, or an `AbortError`, counts as a clean stop, as it does for the manager);
 * - `IGNORES_STOP`: still running `stopWithin` after its signal aborted, and it never looked at
 *   the signal (no `abort` listener or `onabort`, never read `aborted` or `reason`, never called
 *   `throwIfAborted`, never passed it to anything that does);
 * - `STOP_TIMEOUT`: still running `stopWithin` after its signal aborted, although it does use the
 *   signal: its stop is slow, or stuck in its clean-up;
 * - `SETTLED_EARLY`: `run` settled before its work was done: handles it had opened (timers,
 *   sockets, servers, child processes…) were still open when it settled, and closed by themselves
 *   later, within `settleWithin`;
 * - `LEAKED_HANDLES`: handles it had opened were still open `settleWithin` after it settled.
 */
export type GracefulCheckCode =
  | 'FAILED_TO_START'
  | 'NOT_READY'
  | 'ENDED_EARLY'
  | 'REJECTED_ON_STOP'
  | 'IGNORES_STOP'
  | 'STOP_TIMEOUT'
  | 'SETTLED_EARLY'
  | 'LEAKED_HANDLES';

/**
 * The component failed {@link checkGraceful}. The message names the component and what went wrong;
 * `cause` is what the component threw or rejected with, where it did; `open` lists the handles and
 * processes it left behind (`SETTLED_EARLY`, `LEAKED_HANDLES`).
 */
export class GracefulCheckError extends CorralError<GracefulCheckCode> {
  readonly component: string;
  readonly open: OpenResources | undefined;

  constructor(
    code: GracefulCheckCode,
    component: string,
    message: string,
    details: { cause?: unknown; open?: OpenResources } = {},
  ) {
    super(code, `component \`${component}\` ${message}`, 'cause' in details ? { cause: details.cause } : {});
    this.component = component;
    this.open = details.open;
  }
}
