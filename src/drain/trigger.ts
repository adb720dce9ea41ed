import { signalGroupUnlessGone } from '../util/process-group.js';
import { redactUrl } from '../util/redact.js';
import { DrainTriggerError } from './errors.js';
import { httpRequest } from '../util/http.js';

/** An HTTP call that starts a drain; any 2xx status counts as success. */
export interface HttpCall {
  readonly kind: 'http';
  /** @default 'POST' */
  readonly method?: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What starts a component's drain: a signal to its process group, or an HTTP call (the stack file's shape). */
export type DrainTrigger = { readonly kind: 'signal'; readonly signal: NodeJS.Signals } | HttpCall;

/**
 * Sends `signal` to the process group led by `pgid` (children spawned by Corral lead their own
 * group, so workers forked by the component get it too). Rejects with {@link DrainTriggerError}
 * when the group is gone (a drain of nothing cannot start) or may not be signalled.
 */
export function sendDrainSignal(pgid: number, signal: NodeJS.Signals): Promise<void> {
  let why = 'ESRCH';
  try {
    if (signalGroupUnlessGone(pgid, signal)) return Promise.resolve();
  } catch (error) {
    why = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  }
  return Promise.reject(new DrainTriggerError(`could not send ${signal} to process group ${pgid}: ${why}`));
}

/** Makes the call; rejects with {@link DrainTriggerError} (URL redacted) unless the status is 2xx. */
export async function callHttp(call: Omit<HttpCall, 'kind'>, signal: AbortSignal): Promise<void> {
  const method = call.method ?? 'POST';
  let status: number;
  try {
    ({ status } = await httpRequest({ method, url: call.url, headers: call.headers, signal }));
  } catch (error) {
    if (signal.aborted) throw error;
    throw new DrainTriggerError((error as Error).message);
  }
  if (status < 200 || status > 299) {
    throw new DrainTriggerError(`${method} ${redactUrl(call.url)} answered ${status}`);
  }
}

/** Turns a declared trigger into the plan's trigger function; `pid` is needed for a signal. */
export function triggerFor(
  trigger: DrainTrigger,
  target: { readonly pid?: number },
): (signal: AbortSignal) => Promise<void> {
  if (trigger.kind === 'signal') {
    return () =>
      target.pid === undefined
        ? Promise.reject(new DrainTriggerError(`no process to send ${trigger.signal} to`))
        : sendDrainSignal(target.pid, trigger.signal);
  }
  return (signal) => callHttp(trigger, signal);
}
