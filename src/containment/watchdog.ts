import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { constants as osConstants, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '../core/errors.js';
import type { WarningEvent } from '../core/events.js';
import { readStat } from './liveness.js';
import { notify } from '../util/notify.js';
import { signalQuietly } from '../util/process-group.js';
import { requireSystemTool } from '../util/system-tools.js';
import { WATCHDOG_SCRIPT } from './watchdog-script.js';

/**
 * The watchdog: a small sh process (src/containment/watchdog-script.ts) in its own session that
 * outlives Corral. Corral tells it, over a pipe, which process groups and cgroups it has running;
 * when the pipe closes because Corral is gone (a clean exit, a crash, SIGKILL, the OOM killer), the
 * watchdog stops whatever is still registered: the stop signal, a grace period, then SIGKILL and
 * `cgroup.kill`. Corral unregisters what it stopped itself, so after a clean stop nothing is
 * registered and the watchdog simply exits.
 *
 * Guarantee: every `watch*` call is one write(2) of one line (at most PIPE_BUF bytes, so atomic)
 * on a non-blocking pipe, done before the call returns. A pipe delivers its data before its
 * end-of-file, so a registration is honoured even if Corral is SIGKILLed on the next instruction.
 * Register a cgroup before spawning into it and a process group right after `spawn` returns (in the
 * same synchronous turn): with the cgroup, nothing the child runs is ever unwatched; with groups
 * only, a child that forks in the microseconds before the registration could leave a grandchild
 * unwatched (the child itself dies of its parent-death signal).
 *
 * The pipe is a FIFO opened twice and unlinked at once, because Node cannot make an anonymous pipe
 * whose write end is a plain file descriptor: `fs.writeSync` on it is a direct, synchronous write.
 * Both ends are close-on-exec, so no component inherits the write end (which would hide Corral's
 * death). The watchdog child is unref'd and its stdio are not streams: it never keeps Node alive.
 *
 * A watchdog that dies, stops reading or is stopped (SIGSTOP, state `T`, checked every second) is
 * replaced, with every registration replayed, up to {@link MAX_RESTARTS} times a minute. After that,
 * or when a replacement cannot start, the watchdog is lost for good: `onLost` is called once with
 * a {@link WatchdogLostError}, and from then on a SIGKILL of Corral can leave processes behind.
 */

export interface WatchdogOptions {
  /**
   * Once Corral is gone: the longest time, on the wall clock, between the stop signal and SIGKILL.
   * It ends early when every watched group and cgroup is empty.
   * @default 500
   */
  readonly graceMs?: number;
  /** Warnings after start-up: the watchdog failed and was replaced. */
  readonly onWarning?: (warning: WarningEvent) => void;
  /** Called once if the watchdog is lost for good (see the module doc); must not throw. */
  readonly onLost?: (error: WatchdogLostError) => void;
  /** The POSIX shell that runs the watchdog. @default '/bin/sh' */
  readonly shell?: string;
}

/**
 * The watchdog failed and could not be replaced (too many failures in a minute, or a replacement
 * failed to start): from now on, processes may outlive a SIGKILL of Corral.
 */
export class WatchdogLostError extends CorralError<'WATCHDOG_LOST'> {
  /** How the last watchdog failed, e.g. `it was killed by SIGKILL`. */
  readonly reason: string;

  /** `summary` says what happened, e.g. that it failed too often. */
  constructor(reason: string, summary: string) {
    super('WATCHDOG_LOST', `${summary}; if Corral is killed now, processes it started may survive`);
    this.reason = reason;
  }
}

/** Restarts allowed within {@link RESTART_WINDOW_MS} before the watchdog is given up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** How often the watchdog is checked for having been stopped (a dead one reports itself). */
const HEALTH_CHECK_MS = 1000;
/**
 * The watchdog's scheduling priority, where Corral may raise it (as root): once Corral is gone it
 * races the grace period on a machine that may be busy with the very processes it is to stop.
 */
const WATCHDOG_NICE = -10;
/** PIPE_BUF on Linux: writes up to this size are atomic. */
const MAX_LINE = 4096;

export class Watchdog {
  readonly #options: WatchdogOptions;
  /** Registration lines by key (`g<pgid>`, `c<id>`, `d<path>`, `r<path>`), replayed into a restarted watchdog. */
  readonly #registry = new Map<string, string>();
  readonly #cgroupIds = new Map<string, number>();
  #nextCgroupId = 1;
  /** Write end of the current watchdog's pipe; undefined after close or giving up. */
  #fd: number | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restarts: number[] = [];
  /** Looks for a stopped watchdog; unref'd, cleared on close or loss. */
  #health: NodeJS.Timeout | undefined;

  /** Starts the watchdog, synchronously; throws when it cannot be started. */
  constructor(options: WatchdogOptions = {}) {
    this.#options = options;
    this.#launch();
    this.#health = setInterval(() => {
      this.#checkRunning();
    }, HEALTH_CHECK_MS).unref();
  }

  /** The watchdog's pid (it changes when the watchdog is restarted). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Watches process group `pgid` (a component's child leads it); idempotent. `cgroupPath` names a
   * watched cgroup that holds every process of the group, if one does: the watchdog then knows
   * the group is empty from that cgroup's `cgroup.events`, without searching /proc.
   */
  watchGroup(pgid: number, stopSignal: NodeJS.Signals, cgroupPath?: string): void {
    if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`not a process group id: ${pgid}`);
    const cgroup = cgroupPath === undefined ? undefined : this.#cgroupIds.get(cgroupPath);
    this.#register(`g${pgid}`, `g ${pgid} ${signalNumber(stopSignal)}${cgroup ? ` ${cgroup}` : ''}\n`);
  }

  /**
   * Stops watching `pgid`. Call it as soon as the group is seen empty: a pgid left registered
   * could be reused by an unrelated process group later. Idempotent.
   */
  unwatchGroup(pgid: number): void {
    this.#unregister(`g${pgid}`, `G ${pgid}\n`);
  }

  /** Watches the cgroup directory `path`; call it before spawning into the cgroup. Idempotent. */
  watchCgroup(path: string, stopSignal: NodeJS.Signals): void {
    const id = this.#cgroupIds.get(path) ?? this.#nextCgroupId++;
    this.#cgroupIds.set(path, id);
    this.#register(`c${id}`, `c ${id} ${signalNumber(stopSignal)} ${checkPath(path)}\n`);
  }

  /** Stops watching the cgroup at `path`. Idempotent. */
  unwatchCgroup(path: string): void {
    const id = this.#cgroupIds.get(path);
    if (id === undefined) return;
    this.#cgroupIds.delete(path);
    this.#unregister(`c${id}`, `C ${id}\n`);
  }

  /** Asks the watchdog to rmdir `path` when it ends (after the cgroups); e.g. `corral-<pid>/`. */
  removeAtEnd(path: string): void {
    this.#register(`d${path}`, `d ${checkPath(path)}\n`);
  }

  /**
   * Asks the watchdog to remove directory `path` and everything in it when it ends, should Corral
   * die without removing it (e.g. Corral's temporary work directory). After a clean stop, with
   * nothing left to watch, {@link close} ends the watchdog before it gets there: the directory is
   * then the caller's to remove.
   */
  removeTreeAtEnd(path: string): void {
    this.#register(`r${path}`, `r ${checkPath(path)}\n`);
  }

  /**
   * Closes the pipe: the watchdog acts at once on the groups and cgroups still registered, and
   * exits. With none left (after a clean stop) it is SIGKILLed instead, and the directories of
   * {@link removeAtEnd} are the caller's to remove. Idempotent; does not wait (see
   * {@link waitForExit}).
   */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    clearInterval(this.#health);
    if (fd === undefined) return;
    // With nothing to stop, the watchdog would still read, a byte at a time, every unregistration
    // left in its pipe. SIGKILL before the close, as in #replace: it cannot act on the end of input.
    const watching = [...this.#registry.keys()].some((key) => key.startsWith('g') || key.startsWith('c'));
    if (!watching) killQuietly(this.#child);
    closeSync(fd);
  }

  /**
   * Resolves when the current watchdog process has exited. While awaited it keeps Node's event
   * loop alive (the child is otherwise unref'd), so call it only when waiting is wanted.
   */
  async waitForExit(): Promise<void> {
    this.#child?.ref();
    await this.#exited;
  }

  #register(key: string, line: string): void {
    this.#registry.set(key, line);
    this.#write(line);
  }

  #unregister(key: string, line: string): void {
    if (this.#registry.delete(key)) this.#write(line);
  }

  #write(line: string): void {
    if (this.#fd === undefined) return;
    try {
      writeLine(this.#fd, line);
    } catch (error) {
      // EPIPE: the watchdog is gone. EAGAIN: it has not read 64 KiB of lines for a second: stuck.
      this.#replace(`its pipe failed with ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  /** Starts a watchdog process connected to a fresh pipe; throws if any step fails. */
  #launch(): void {
    const shell = this.#options.shell ?? '/bin/sh';
    // A missing shell would only surface later, as an 'error' event: fail now, plainly.
    if (!existsSync(shell)) throw new Error(`${shell} does not exist`);
    // Resolved now, and never on PATH: the script must work whatever environment Corral has.
    const mkfifo = requireSystemTool('mkfifo');
    const tools = ['sleep', 'rmdir', 'rm'].map(requireSystemTool);
    const dir = mkdtempSync(join(tmpdir(), 'corral-watchdog-'));
    let write: number | undefined;
    let child: ChildProcess | undefined;
    try {
      const fifo = join(dir, 'pipe');
      execFileSync(mkfifo, ['-m', '600', fifo], { stdio: 'ignore' });
      // Opening a FIFO blocks until the other end is open, unless non-blocking: open a
      // non-blocking reader first, then the writer, then the blocking reader the watchdog gets.
      const probe = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      write = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      const read = openSync(fifo, constants.O_RDONLY);
      closeSync(probe);
      unlinkSync(fifo);
      const grace = String(this.#options.graceMs ?? 500);
      // The script travels in the environment, so that `ps` shows one short line, not the script.
      child = spawn(shell, ['-c', 'eval "$CORRAL_WATCHDOG"', 'corral-watchdog', grace, ...tools], {
        stdio: [read, 'ignore', 'ignore'],
        detached: true, // setsid: no terminal's Ctrl-C or hang-up reaches it
        cwd: '/',
        env: { CORRAL_WATCHDOG: WATCHDOG_SCRIPT },
      });
      closeSync(read); // from now on the watchdog is the only reader: its death means EPIPE
      child.unref();
      if (child.pid !== undefined) raisePriority(child.pid);
      const started = child;
      this.#exited = new Promise<void>((resolve) => {
        started.once('error', () => {
          resolve();
          if (this.#child === started) this.#replace('it could not be started');
        });
        started.once('exit', (code, signal) => {
          resolve();
          if (this.#child === started && this.#fd !== undefined) {
            this.#replace(signal ? `it was killed by ${signal}` : `it exited with code ${code}`);
          }
        });
      });
      for (const line of this.#registry.values()) writeLine(write, line);
      this.#child = child;
      this.#fd = write;
    } catch (error) {
      // Kill before closing: a watchdog that saw the pipe close would stop every component.
      killQuietly(child);
      if (write !== undefined) closeSync(write);
      throw error;
    } finally {
      // Only the unlinked FIFO was in it.
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** A stopped watchdog would read nothing and stop nothing: replace it like a dead one. */
  #checkRunning(): void {
    const pid = this.#child?.pid;
    if (pid === undefined || this.#fd === undefined) return;
    const state = readStat(pid)?.state;
    if (state === 'T' || state === 't') this.#replace(`it was stopped (state ${state})`);
  }

  /** Replaces a dead or stuck watchdog and replays every registration, within a restart budget. */
  #replace(reason: string): void {
    const old = this.#child;
    this.#child = undefined;
    // SIGKILL before closing its pipe: a stuck watchdog that then saw the end of its input would
    // stop every component. After kill(2) returns, a SIGKILLed process runs no more user code.
    killQuietly(old);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    const now = Date.now();
    this.#restarts = this.#restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.#restarts.length >= MAX_RESTARTS) {
      const summary = `the watchdog failed ${MAX_RESTARTS + 1} times within a minute (the last time, ${reason})`;
      this.#lose(new WatchdogLostError(reason, summary));
      return;
    }
    this.#restarts.push(now);
    try {
      this.#launch();
      this.#warn('WATCHDOG_RESTARTED', `the watchdog failed (${reason}); restarted it`);
    } catch (error) {
      const summary = `the watchdog failed (${reason}) and cannot be restarted: ${(error as Error).message}`;
      this.#lose(new WatchdogLostError(reason, summary));
    }
  }

  #lose(error: WatchdogLostError): void {
    clearInterval(this.#health);
    notify(this.#options.onLost, error);
  }

  #warn(code: string, message: string): void {
    notify(this.#options.onWarning, { type: 'warning', code, message });
  }
}

/** How long a write waits for a full pipe to drain before the watchdog counts as stuck. */
const FULL_PIPE_PATIENCE_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * One atomic write of `line` (shorter than PIPE_BUF, so all or nothing) on the non-blocking pipe.
 * A full pipe means the watchdog is behind (a busy machine, a large replay): wait for it, in 1 ms
 * synchronous steps, since the write must be done before the caller goes on.
 */
function writeLine(fd: number, line: string): void {
  const deadline = performance.now() + FULL_PIPE_PATIENCE_MS;
  for (;;) {
    try {
      writeSync(fd, line);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || performance.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** SIGKILLs `child` unless it has already exited and been reaped (its pid may be reused by then). */
function killQuietly(child: ChildProcess | undefined): void {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    signalQuietly(child.pid, 'SIGKILL');
  }
}

/**
 * Raises the watchdog's priority where that is allowed; elsewhere it keeps the default, and the
 * grace period is measured on the wall clock regardless. With autogroup scheduling (most desktop
 * and many server kernels), CPU time is shared between sessions first, so the nice value of the
 * watchdog's session (its autogroup) matters as much as its own.
 */
function raisePriority(pid: number): void {
  try {
    setPriority(pid, WATCHDOG_NICE);
  } catch {
    // EACCES without CAP_SYS_NICE.
  }
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(WATCHDOG_NICE));
  } catch {
    // No autogroup support, or no right to lower a nice value.
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const number = osConstants.signals[signal] as number | undefined;
  if (number === undefined) throw new RangeError(`unknown signal: ${signal}`);
  return number;
}

function checkPath(path: string): string {
  if (!path.startsWith('/') || path.includes('\n') || path.length > MAX_LINE - 64) {
    throw new RangeError(`not an absolute single-line path: ${JSON.stringify(path)}`);
  }
  return path;
}
