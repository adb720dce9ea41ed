import { type Clock, systemClock } from '../../core/clock.js';
import { CorralError, formatMs } from '../../core/errors.js';
import { redactUrls } from '../../util/redact.js';
import type { LineTap } from '../../output/forward.js';
import type { Check, ExecContext } from './checks.js';
import { InvalidProbeError, prepare, PROBE_DEFAULTS, type ReadinessProbe } from './spec.js';

export { type ExecContext, ProbeCommandError } from './checks.js';
export { InvalidProbeError, type ProbeTiming, type ReadinessProbe, validateProbe } from './spec.js';

/*
 * Waiting for a readiness probe: attempts spaced by `interval`, each bounded by `attemptTimeout`,
 * all within the `timeout` deadline; every wait is on the injected Clock and stops when the
 * caller's signal aborts. What a probe is and how it is validated lives in spec.ts, one
 * attempt of each kind in checks.ts.
 */

/** The start-up deadline passed before the probe passed. */
export class ProbeTimeoutError extends CorralError<'READY_TIMEOUT'> {
  readonly component: string;
  /** What was probed, URLs redacted: `GET http://127.0.0.1:8080/healthz?token=***`. */
  readonly probe: string;
  readonly timeoutMs: number;
  /** How the last finished attempt failed (`answered 503`); `undefined` when none finished. */
  readonly lastFailure: string | undefined;

  /** `summary` replaces the usual `<probe> last <lastFailure>` (a `log` probe makes no attempts). */
  constructor(
    component: string,
    probe: string,
    timeoutMs: number,
    lastFailure: string | undefined,
    summary?: string,
  ) {
    const how =
      summary ??
      `${probe} ${lastFailure === undefined ? 'never finished an attempt' : `last ${lastFailure}`}`;
    super('READY_TIMEOUT', `component \`${component}\` was not ready within ${formatMs(timeoutMs)}: ${how}`);
    this.component = component;
    this.probe = probe;
    this.timeoutMs = timeoutMs;
    this.lastFailure = lastFailure;
  }
}

export interface WaitOptions {
  /** The component's name, for the error. */
  readonly component: string;
  /** Aborting rejects with `signal.reason` at once, stopping any attempt in flight. */
  readonly signal?: AbortSignal;
  /** @default systemClock */
  readonly clock?: Clock;
  /** The component's output lines; required by `log` probes (see LineTap). */
  readonly lines?: LineTap;
  /** How `exec` probe commands run: the component's directory, environment and layers. */
  readonly exec?: ExecContext;
  /** Told how each failed attempt failed (for debug events); must not throw. */
  readonly onFailedAttempt?: (failure: { reason: string; timedOut: boolean }) => void;
}

/**
 * Resolves once `probe` passes. Rejects with {@link ProbeTimeoutError} when its `timeout` passes
 * first, with `signal.reason` as soon as `signal` aborts, with {@link InvalidProbeError} for a
 * probe that cannot work, and with ProbeCommandError when an `exec` probe cannot be started.
 */
export async function waitUntilReady(probe: ReadinessProbe, options: WaitOptions): Promise<void> {
  const { signal, clock = systemClock } = options;
  const prepared = prepare(probe, options.exec ?? {});
  const timeout = probe.timeout ?? PROBE_DEFAULTS.timeout;
  const timedOut = (failure: string | undefined, summary?: string): ProbeTimeoutError =>
    new ProbeTimeoutError(options.component, prepared.description, timeout, failure, summary);
  signal?.throwIfAborted();
  if ('pattern' in prepared) return watchForLine(prepared.pattern, options, clock, timeout, timedOut);
  const { check } = prepared;
  const deadline = clock.now() + timeout;
  let lastFailure: string | undefined;
  for (;;) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) throw timedOut(lastFailure);
    const attemptTimeout = probe.attemptTimeout ?? PROBE_DEFAULTS.attemptTimeout;
    const cutShort = remaining < attemptTimeout; // this attempt's timer is the deadline's
    const failure = await attempt(check, Math.min(attemptTimeout, remaining), clock, signal);
    signal?.throwIfAborted();
    if (failure === undefined) return;
    options.onFailedAttempt?.(failure);
    // An attempt the deadline cut off says less than a complete earlier one (`answered 503`).
    if (!(cutShort && failure.timedOut && lastFailure !== undefined)) lastFailure = failure.reason;
    const pause = Math.min(probe.interval ?? PROBE_DEFAULTS.interval, deadline - clock.now());
    if (pause <= 0) throw timedOut(lastFailure);
    await clock.sleep(pause, signal);
  }
}

/** Runs one attempt, aborting it after `ms` on `clock` or when `signal` aborts. */
async function attempt(
  check: Check,
  ms: number,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<{ reason: string; timedOut: boolean } | undefined> {
  const expired = new AbortController();
  const done = new AbortController(); // cancels the timer once the attempt settled
  void clock.sleep(ms, done.signal).then(
    () => expired.abort(new Error(`timed out after ${formatMs(ms)}`)),
    () => undefined,
  );
  try {
    const failure = await check(signal ? AbortSignal.any([signal, expired.signal]) : expired.signal);
    return failure === undefined
      ? undefined
      : { reason: redactUrls(failure), timedOut: expired.signal.aborted };
  } finally {
    done.abort();
  }
}

/** Resolves at the first output line matching `pattern`; the deadline is a single sleep. */
async function watchForLine(
  pattern: RegExp,
  options: WaitOptions,
  clock: Clock,
  timeout: number,
  timedOut: (failure: string | undefined, summary: string) => ProbeTimeoutError,
): Promise<void> {
  const { lines, signal } = options;
  if (!lines) throw new InvalidProbeError('log', "a log probe needs the component's output lines");
  let seen = 0;
  const done = new AbortController();
  const matched = new Promise<void>((resolve) => {
    const unwatch = lines.watch((line) => {
      seen++;
      if (!pattern.test(line)) return;
      unwatch();
      resolve();
    });
    done.signal.addEventListener('abort', unwatch, { once: true });
  });
  const waits = signal ? AbortSignal.any([signal, done.signal]) : done.signal;
  try {
    await Promise.race([
      matched,
      clock.sleep(timeout, waits).then(() => {
        const failure = `saw ${seen} line${seen === 1 ? '' : 's'}, none matching`;
        throw timedOut(
          failure,
          `no output line matched ${String(pattern)} (${failure.replace(', none matching', '')})`,
        );
      }),
    ]);
  } finally {
    done.abort();
  }
}
