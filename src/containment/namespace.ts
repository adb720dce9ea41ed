import { execFile, spawn } from 'node:child_process';
import type { WarningEvent } from '../core/events.js';
import { signalQuietly } from '../util/process-group.js';
import { systemTool } from '../util/system-tools.js';
import { INIT_SCRIPT } from './init.js';
import { isLiveState, listProcesses } from './liveness.js';
import { exitStatusOf } from '../process/terminate.js';

/**
 * Isolation mode: the whole stack runs in its own PID namespace, so nothing can escape it. When the
 * namespace's PID 1 ends, the kernel SIGKILLs every process left in the namespace, whatever session,
 * process group or cgroup it moved to. The chain, from the process the user started:
 *
 *     corral (outer, Node)                     forwards signals, mirrors the exit status
 *       setpriv --pdeathsig KILL               dies with the outer process, even on SIGKILL
 *         unshare --fork --pid --mount-proc --kill-child
 *           sh corral-init (PID 1)             dies with unshare (--kill-child); reaps orphans
 *             corral (inner, PID 2)            the real run; CORRAL_PID_NAMESPACE=<outer pid>
 *
 * The init is Corral's own (./init.ts): orphans in the namespace are re-parented to its PID 1, and
 * Node only reaps children it started itself, so Node as PID 1 would collect zombies forever.
 * Signals: the chain runs in its own session, so a terminal's Ctrl-C reaches only the outer process,
 * which forwards each signal once to the init, and the init once to the inner Corral (its
 * components run in their own groups, as always). Not to the chain's process group: the inner
 * Corral would get each signal twice, and unshare dies of those it does not block (all but SIGINT
 * and SIGTERM), taking the namespace with it.
 *
 * Availability: Linux with util-linux `unshare` and `setpriv`, and either root (CAP_SYS_ADMIN) or
 * unprivileged user namespaces (then `--user --map-current-user` is added: same uid inside, but
 * files of other users, cgroups included, are not writable from inside).
 * /proc inside is the namespace's own (`--mount-proc`), so pids Corral reads there are its own.
 */

/** Set in the inner Corral's environment: the pid of the outer process. */
export const NAMESPACE_ENV = 'CORRAL_PID_NAMESPACE';

export interface NamespaceOptions {
  /** Add a user namespace (for non-root users); see {@link checkNamespaceSupport}. @default false */
  readonly userNamespace?: boolean;
}

export interface NamespaceCommand {
  /** The command to spawn: setpriv, unshare, the init, then the inner argv. */
  readonly argv: readonly string[];
  /** Variables to add to the environment, telling the inner Corral where it runs. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The command that runs `innerArgv` as PID 2 of a new PID namespace, e.g. for the CLI
 * `[process.execPath, ...process.execArgv, process.argv[1], ...args]`. Pure; spawn it with
 * `detached: true` (or use {@link runInNamespace}).
 */
export function namespaceCommand(
  innerArgv: readonly string[],
  options: NamespaceOptions = {},
  outerPid = process.pid,
): NamespaceCommand {
  const { setpriv, unshare } = tools();
  return {
    argv: [
      setpriv ?? 'setpriv',
      '--pdeathsig',
      'KILL',
      '--',
      unshare ?? 'unshare',
      ...(options.userNamespace ? ['--user', '--map-current-user'] : []),
      '--fork',
      '--pid',
      '--mount-proc',
      '--kill-child',
      '--',
      '/bin/sh',
      INIT_SCRIPT,
      ...innerArgv,
    ],
    env: { [NAMESPACE_ENV]: String(outerPid) },
  };
}

/** Whether a Corral runs as the inner Corral of isolation mode, and if so the outer pid. */
export type NamespacePlace =
  { readonly inside: false } | { readonly inside: true; readonly outerPid: number };

/**
 * Whether this process is the inner Corral of isolation mode, and the outer pid (for names that
 * must be unique on the host, such as the cgroup directory; see detectCgroups' `ownerPid`).
 */
export function insideNamespace(env: NodeJS.ProcessEnv = process.env): NamespacePlace {
  const outerPid = Number(env[NAMESPACE_ENV]);
  return Number.isInteger(outerPid) && outerPid > 0 ? { inside: true, outerPid } : { inside: false };
}

export type NamespaceSupport =
  | { readonly available: true; readonly userNamespace: boolean }
  | { readonly available: false; readonly reason: string; readonly warning: WarningEvent };

/**
 * Finds out whether isolation mode can run here, by starting a real namespace around `true`
 * (a few milliseconds): as root without a user namespace, otherwise with one.
 */
export async function checkNamespaceSupport(): Promise<NamespaceSupport> {
  const unavailable = (reason: string): NamespaceSupport => ({
    available: false,
    reason,
    warning: {
      type: 'warning',
      code: 'NAMESPACE_UNAVAILABLE',
      message: `isolation mode is not available: ${reason}`,
    },
  });
  if (process.platform !== 'linux') return unavailable('PID namespaces exist only on Linux');
  const { setpriv, unshare } = tools();
  if (!unshare || !setpriv) return unavailable('util-linux `unshare` and `setpriv` are needed');
  const attempts = process.getuid?.() === 0 ? [false, true] : [true];
  let reason = '';
  for (const userNamespace of attempts) {
    const { argv } = namespaceCommand(['true'], { userNamespace });
    const error = await run(argv);
    if (error === undefined) return { available: true, userNamespace };
    reason = error;
  }
  return unavailable(`unshare failed (${reason}); it needs root or unprivileged user namespaces`);
}

export interface NamespaceRun {
  /** pid of the chain's first process (setpriv, then unshare); it leads the chain's process group. */
  readonly pid: number;
  /** The inner command's exit status, shell-style (128+n after signal n). Never rejects. */
  readonly exitCode: Promise<number>;
}

/** Signals the outer process passes on to the inner Corral. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Runs `innerArgv` in isolation mode with inherited stdio, forwarding {@link FORWARDED} signals to
 * it until it exits. The caller then exits with `await exitCode`.
 */
export function runInNamespace(innerArgv: readonly string[], options: NamespaceOptions = {}): NamespaceRun {
  const { argv, env } = namespaceCommand(innerArgv, options);
  const [command = 'setpriv', ...args] = argv;
  const child = spawn(command, args, {
    stdio: 'inherit',
    detached: true, // own session: terminal signals reach only us, and we forward each once
    env: { ...process.env, ...env },
  });
  const pid = child.pid ?? -1;
  let ended = false;
  const forward = (signal: NodeJS.Signals): void => {
    // A chain that is gone, or never started, has its exit on its way.
    if (ended || pid <= 0) return;
    const init = initOf(pid);
    // Until unshare's child has become the init, it would die of the signal: try again shortly.
    if (init === undefined) setTimeout(forward, 10, signal);
    // An init already gone has its exit, and the chain's, on its way.
    else signalQuietly(init, signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  const exitCode = new Promise<number>((resolve) => {
    const done = (code: number): void => {
      ended = true;
      for (const signal of FORWARDED) process.removeListener(signal, forward);
      resolve(code);
    };
    child.once('error', () => done(127));
    child.once('exit', (exitCode, signal) => done(exitStatusOf({ exitCode, signal })));
  });
  return { pid, exitCode };
}

/** The chain's init: unshare's one child, once it runs the init script (its name is then `sh`). */
function initOf(unsharePid: number): number | undefined {
  const child = listProcesses().find((p) => p.ppid === unsharePid && isLiveState(p.state));
  return child && child.comm !== 'unshare' ? child.pid : undefined;
}

function tools(): { setpriv: string | undefined; unshare: string | undefined } {
  return { setpriv: systemTool('setpriv'), unshare: systemTool('unshare') };
}

/** Runs argv; resolves `undefined` on exit 0, else a short description of the failure. */
function run(argv: readonly string[]): Promise<string | undefined> {
  const [command = '', ...args] = argv;
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      resolve(error ? stderr.trim().split('\n')[0] || error.message : undefined);
    });
  });
}
