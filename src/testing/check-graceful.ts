import { systemClock } from '../core/clock.js';
import type { Component } from '../core/component.js';
import { ComponentFailedError, describe, formatMs, ShutdownTimeoutError } from '../core/errors.js';
import { Manager } from '../core/manager.js';
import { GracefulCheckError, type GracefulCheckCode } from './graceful-check-error.js';
import { ObservedComponent } from './observed-component.js';
import { describeOpen, openSince, snapshot, untilClosed, type OpenResources } from './resources.js';

export interface GracefulCheckOptions {
  /** How long the component may take from its start until it is ready. @default 5_000 */
  readonly startWithin?: number;
  /** How long it may take to finish once asked to stop, its drain included. @default 5_000 */
  readonly stopWithin?: number;
  /**
   * How long after its `run` settled the check waits for handles still open to close: those that
   * close in this time made the run settle too early (`SETTLED_EARLY`), the others leaked
   * (`LEAKED_HANDLES`). Only a failing check waits this long. @default 1_000
   */
  readonly settleWithin?: number;
  /**
   * Runs once the component is ready, before it is asked to stop; the stop begins when it
   * resolves. For traffic to stop under: open idle keep-alive connections, start requests that
   * are still in flight when the stop begins. What it opens must be closed by the time the
   * component has finished, as a graceful server closes its connections. When it rejects, the
   * check stops the component and rejects with that error.
   */
  readonly beforeStop?: () => void | Promise<void>;
}

/** What a component that passed {@link checkGraceful} did. */
export interface GracefulReport {
  readonly component: string;
  /** From its start until it was ready. */
  readonly startMs: number;
  /** From its signal aborting until its `run` settled, its drain included. */
  readonly stopMs: number;
}

/**
 * Checks that `component` starts, stops and cleans up gracefully: runs it alone in a fresh
 * {@link Manager}, waits until it is ready, aborts its signal, and awaits its `run`. Resolves with
 * how long its start and stop took. Rejects with a {@link GracefulCheckError}, whose `code` says
 * which rule it broke, when it: fails before it is ready, is not ready within `startWithin`, ends
 * on its own, rejects on a plain stop, does not finish within `stopWithin` (ignoring its signal,
 * or slow), or leaves behind, once its `run` settled, a handle it opened (a timer, a socket, a
 * server, a file-system request, a child process…), whether that handle closes later on its own
 * (the run settled before its work was done) or never.
 *
 * Handles are compared with what the whole process held before the component started, so run
 * checks one at a time, and open what the component owns inside its `run`. Works in any test
 * framework (it only returns a promise); each run is bounded by the three durations. A component
 * that failed the check may still hold what it leaked: the test must release it.
 */
export async function checkGraceful(
  component: Component,
  options: GracefulCheckOptions = {},
): Promise<GracefulReport> {
  const startWithin = options.startWithin ?? 5_000;
  const stopWithin = options.stopWithin ?? 5_000;
  const settleWithin = options.settleWithin ?? 1_000;
  const fail = (
    code: GracefulCheckCode,
    message: string,
    details?: { cause?: unknown; open?: OpenResources },
  ) => new GracefulCheckError(code, component.name, message, details);

  const before = await snapshot();
  const observed = new ObservedComponent(component);
  // The manager's own deadline bounds the stop: when it passes, `run` rejects and the manager drops
  // every timer it armed, while the component itself is left to whoever owns it.
  const manager = new Manager({ shutdownTimeout: stopWithin, defaultStopTimeout: stopWithin });
  manager.add(observed);
  const stop = new AbortController();
  const startedAt = performance.now();
  const running = manager.run(stop.signal);
  const outcome = running.then(
    () => undefined,
    (error: unknown) => error,
  );

  const start = await readyWithin(manager, startWithin);
  if (start === 'timeout') {
    stop.abort();
    const stuck = (await outcome) instanceof ShutdownTimeoutError;
    const also = stuck ? `, nor did it stop within ${formatMs(stopWithin)} when asked` : '';
    throw fail('NOT_READY', `was not ready within ${formatMs(startWithin)}${also}`);
  }
  if (start === 'ended' || observed.settled()) {
    const ended = await outcome;
    const when = start === 'ended' ? 'before it was ready' : 'right after it was ready';
    if (ended instanceof ComponentFailedError) {
      const code = start === 'ended' ? 'FAILED_TO_START' : 'ENDED_EARLY';
      throw fail(code, `failed ${when}: ${describe(ended.cause)}`, { cause: ended.cause });
    }
    throw fail('ENDED_EARLY', `finished on its own ${when}, without being asked to stop`);
  }
  const startMs = performance.now() - startedAt;
  try {
    await options.beforeStop?.();
  } catch (error) {
    stop.abort();
    await outcome;
    throw error;
  }

  const stoppingAt = performance.now();
  stop.abort();
  const ended = await outcome;
  if (ended instanceof ShutdownTimeoutError) {
    const still = `still running ${formatMs(stopWithin)} after its signal aborted`;
    if (!observed.lookedAtSignal) {
      throw fail(
        'IGNORES_STOP',
        `ignores its stop signal: ${still}, and it never looked at the signal (no abort listener, never read \`aborted\`)`,
      );
    }
    throw fail(
      'STOP_TIMEOUT',
      `did not stop in time: ${still}; it does use the signal, so its stop is slow or stuck`,
    );
  }
  const settled = observed.settled();
  if (!settled?.asked) {
    if (ended instanceof ComponentFailedError) {
      throw fail('ENDED_EARLY', `failed before it was asked to stop: ${describe(ended.cause)}`, {
        cause: ended.cause,
      });
    }
    throw fail('ENDED_EARLY', 'finished on its own before it was asked to stop');
  }
  if (ended instanceof ComponentFailedError) {
    const message = `rejected when asked to stop (a plain stop must resolve): ${describe(ended.cause)}`;
    throw fail('REJECTED_ON_STOP', message, { cause: ended.cause });
  }
  // Anything else `run` rejects with is the check's own failure, not the component's.
  if (ended !== undefined) throw ended as Error;
  const stopMs = settled.at - stoppingAt;

  const open = openSince(before, await snapshot());
  if (open) {
    const left = await untilClosed(before, settleWithin);
    if (left) {
      throw fail(
        'LEAKED_HANDLES',
        `left open after it finished: ${describeOpen(left)}; still open ${formatMs(settleWithin)} after its \`run\` settled`,
        { open: left },
      );
    }
    throw fail(
      'SETTLED_EARLY',
      `finished before its work was done: when its \`run\` settled it still had ${describeOpen(open)} open, which closed later on their own`,
      { open },
    );
  }
  return { component: component.name, startMs, stopMs };
}

/** Why the wait for readiness was given up; the one reason the check's own deadline aborts with. */
const START_TIMED_OUT = Symbol('start timed out');

/** Waits until `manager` is ready: `ready`, `timeout` after `ms`, or `ended` when its run ended first. */
async function readyWithin(manager: Manager, ms: number): Promise<'ready' | 'timeout' | 'ended'> {
  const deadline = new AbortController();
  const timer = systemClock.sleep(ms, deadline.signal).then(
    () => deadline.abort(START_TIMED_OUT),
    () => undefined,
  );
  try {
    await manager.whenReady(deadline.signal);
    return 'ready';
  } catch (error) {
    return error === START_TIMED_OUT ? 'timeout' : 'ended';
  } finally {
    // Cancels the timer when it has not fired, so that it is not counted as the component's.
    deadline.abort();
    await timer;
  }
}
