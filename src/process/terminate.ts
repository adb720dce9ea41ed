import { constants } from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { CorralError, formatMs } from '../core/errors.js';
import { isLiveState, listProcesses, type ProcessTable } from '../containment/liveness.js';
import { signalGroupUnlessGone } from '../util/process-group.js';
import { FINISHED, raceAbort } from '../util/abort.js';
import type { ExitStatus } from './spawn.js';

/**
 * Stopping a child with everything it started: the stop signal to its whole process group, then
 * after `stopTimeout` SIGKILL to the group. A stop has finished only when the group is empty (no
 * member left but zombies), not when the direct child exited: a shell's `sleep` or a server's
 * workers keep running after their parent is gone.
 */

/** What is being stopped. */
export interface StopTarget {
  /** The process group: the direct child's pid, since it leads its own group. */
  readonly pgid: number;
  /** Settles when the direct child exited (see {@link SpawnedChild.exited}). */
  readonly exited: Promise<ExitStatus>;
  /**
   * Called with the stop signal, besides the group signal: the cgroup layer signals processes
   * that left the group here, so that a daemonized helper gets a chance to stop gracefully too.
   */
  signalAll?(signal: NodeJS.Signals): void | Promise<void>;
  /**
   * Called with SIGKILL after the stop timeout, besides the group kill: the cgroup layer kills
   * processes that left the group here (`cgroup.kill`).
   */
  killAll?(): void | Promise<void>;
  /** Also required for "finished", besides an empty group: the cgroup layer's "no process left". */
  isEmpty?(): boolean | Promise<boolean>;
  /**
   * Where the group's members are looked up, shared with other stops under way (see Isolation).
   * @default a fresh read of /proc at every poll
   */
  readonly processes?: ProcessTable;
}

export interface TerminateOptions {
  /** Sent to the group first. @default 'SIGTERM' */
  readonly stopSignal?: NodeJS.Signals;
  /** How long the group may take before it is SIGKILLed, in ms. @default 10_000 */
  readonly stopTimeout?: number;
  /** Measures `stopTimeout` and the stop duration. @default systemClock */
  readonly clock?: Clock;
}

/** How a stop ended. */
export interface Termination extends ExitStatus {
  /** SIGKILL was needed because the group outlived `stopTimeout`. */
  readonly forced: boolean;
  /** From sending the stop signal to the group being empty. */
  readonly durationMs: number;
  /** The signal that was sent first. */
  readonly stopSignal: NodeJS.Signals;
  /** The time the group had before SIGKILL. */
  readonly stopTimeout: number;
}

/**
 * Stops `target` as described in the module doc and resolves when it has fully finished, with
 * how the direct child ended. Safe when the child already exited: the rest of its group is
 * still stopped. Never rejects.
 */
export async function terminate(target: StopTarget, options: TerminateOptions = {}): Promise<Termination> {
  const clock = options.clock ?? systemClock;
  const stopSignal = options.stopSignal ?? 'SIGTERM';
  const stopTimeout = options.stopTimeout ?? 10_000;
  const started = clock.now();
  signalGroupUnlessGone(target.pgid, stopSignal);
  // Processes that left the group get the stop signal in a later turn: when a stack stops, every
  // component's group is signalled first, so that their processes all stop in parallel while
  // Corral looks for leavers (by then most cgroups are empty, and looking is one small read).
  if (target.signalAll) {
    await new Promise(setImmediate);
    await target.signalAll(stopSignal);
  }

  const deadline = new AbortController();
  const finishedInTime = whenFinished(target, deadline.signal).then(() => false);
  const timeout = clock.sleep(stopTimeout, deadline.signal).then(() => true);
  // The loser of the race is aborted in `finally`; its rejection is expected and ignored.
  finishedInTime.catch(() => undefined);
  timeout.catch(() => undefined);
  let forced = false;
  try {
    if (await Promise.race([finishedInTime, timeout])) {
      forced = true;
      await killEverything(target);
      // Keep killing until empty: a member may have been forking while the first kill went out.
      await whenFinished(target, undefined, () => killEverything(target));
    }
  } finally {
    deadline.abort(FINISHED);
  }
  const status = await target.exited;
  return { ...status, forced, durationMs: clock.now() - started, stopSignal, stopTimeout };
}

/**
 * Waits for the direct child to exit and then for its group (and cgroup) to be empty, polling from
 * 2 ms and backing off to 100 ms so that a quick stop is seen at once and a slow one costs little.
 * Polling uses real timers, not the injected clock: it observes real processes, and a manual clock
 * would never let it see them.
 */
async function whenFinished(
  target: StopTarget,
  signal: AbortSignal | undefined,
  onPoll?: () => Promise<void>,
): Promise<void> {
  await (signal ? raceAbort(target.exited, signal) : target.exited);
  const empty = async (): Promise<boolean> =>
    isGroupGone(target.pgid, target.processes) && ((await target.isEmpty?.()) ?? true);
  for (let interval = 2; !(await empty()); interval = Math.min(100, interval * 1.5)) {
    await systemClock.sleep(interval, signal);
    await onPoll?.();
  }
}

async function killEverything(target: StopTarget): Promise<void> {
  signalGroupUnlessGone(target.pgid, 'SIGKILL');
  await target.killAll?.();
}

/**
 * Whether group `pgid` has no live member. The cheap probe first: `kill(-pgid, 0)` fails with
 * ESRCH only when no process, not even a zombie, carries the pgid. Otherwise a /proc scan tells
 * zombies (gone, but not yet reaped by PID 1) from live members.
 */
export function isGroupGone(pgid: number, processes?: ProcessTable): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  const all = processes ? processes.list() : listProcesses();
  return !all.some((p) => p.pgid === pgid && isLiveState(p.state));
}

/** The shell's exit status for an ending: the code, or 128 + the signal's number. */
export function exitStatusOf(status: ExitStatus): number {
  if (status.signal) return 128 + ((constants.signals[status.signal] as number | undefined) ?? 0);
  return status.exitCode ?? 0;
}

/**
 * A process component ended unsuccessfully: on its own with a non-zero code or a signal, or while
 * being stopped, with SIGKILL (`forced`) or a code other than 0. `exitStatus` is the shell's
 * (128 + n for signal n), for a CLI that exits with it.
 */
export class ProcessExitError extends CorralError<'PROCESS_EXITED'> {
  readonly component: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly forced: boolean;
  readonly exitStatus: number;

  constructor(component: string, ending: ExitStatus & Partial<Termination>) {
    const forced = ending.forced ?? false;
    const stopSignal = ending.stopSignal ?? 'SIGTERM';
    const ignored = `ignoring ${stopSignal}${ending.stopTimeout === undefined ? '' : ` for ${formatMs(ending.stopTimeout)}`}`;
    let what: string;
    if (forced && ending.signal === 'SIGKILL') {
      what = `was killed by SIGKILL after ${ignored}`;
    } else if (forced) {
      // The child itself obeyed, but something it started did not.
      what = `left processes that were killed by SIGKILL after ${ignored}`;
    } else if (ending.signal) {
      what = `was killed by ${ending.signal}`;
    } else {
      what = `exited with code ${ending.exitCode ?? 'unknown'}`;
      if (ending.stopSignal) what += ` after ${ending.stopSignal}`;
    }
    super('PROCESS_EXITED', `component \`${component}\` ${what}`);
    this.component = component;
    this.exitCode = ending.exitCode;
    this.signal = ending.signal;
    this.forced = forced;
    this.exitStatus = exitStatusOf(ending);
  }
}
