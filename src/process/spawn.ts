import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { CorralError } from '../core/errors.js';
import { systemTool } from '../util/system-tools.js';
import { describeOutOfFiles, isOutOfFiles } from './open-files.js';

/**
 * Spawning one child, isolated from the terminal and tied to Corral's life:
 *
 * 1. It leads its own session and process group (`setsid`, via `detached: true`), so a Ctrl-C in
 *    the terminal reaches only Corral, and Corral can signal the child with all its descendants.
 * 2. It gets a parent-death signal: util-linux `setpriv --pdeathsig KILL` runs between the fork
 *    and the real program, so the kernel SIGKILLs the child when the thread that forked it dies.
 *    Node forks from the thread that calls `spawn`, so this module must be used from the main
 *    thread, never from a worker that may exit first.
 * 3. User and group are switched by that same `setpriv`, because the kernel clears the
 *    parent-death signal on every credential change: setpriv changes credentials first and sets
 *    the signal last (checked by a test). Command prefixes (the cgroup trampoline) run before the
 *    switch, still with Corral's privileges.
 *
 * Without setpriv the child still gets its session and user switch (through Node's `uid`/`gid`),
 * but no parent-death signal; callers learn that from {@link SpawnedChild.parentDeathSignal}.
 */

/**
 * Where a child's stdout and stderr go: a pipe Corral reads, Corral's own stream, nowhere, or
 * a socket Corral made (the child's end of an OutputPipe).
 */
export type StdioTarget = 'pipe' | 'inherit' | 'ignore' | Socket;

export interface SpawnOptions {
  /**
   * The program and its arguments. `argv[0]` should be an absolute path (see lookup.ts); no
   * shell is involved, so nothing in the arguments is interpreted.
   */
  readonly argv: readonly string[];
  /** Variables added to (or, when `undefined`, removed from) Corral's own environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The environment `env` is applied to. @default process.env */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** User name or uid to run as; its primary group and supplementary groups come with it. */
  readonly user?: string | number;
  /** Group name or gid to run as; overrides the user's primary group. */
  readonly group?: string | number;
  /**
   * Give the child SIGKILL when Corral dies, through setpriv. Off only for negative controls.
   * @default true
   */
  readonly parentDeathSignal?: boolean;
  /**
   * Commands put in front of everything, in order. Each must end by exec'ing the rest of its
   * argv (so the pid stays the child's); the cgroup trampoline uses this to enter its cgroup.
   */
  readonly prefix?: readonly string[];
  /**
   * Called with the child's pid in the same synchronous turn as the fork, before its `exec` has
   * been confirmed: the watchdog registers the group here, so that no turn of the event loop
   * passes in which Corral could die with the group unwatched. Not called if the fork failed.
   */
  readonly onFork?: (pid: number) => void;
  /** @default 'pipe' */
  readonly stdout?: StdioTarget;
  /** @default 'pipe' */
  readonly stderr?: StdioTarget;
}

/** How the direct child ended, as Node reports it: exactly one of the two is set. */
export interface ExitStatus {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child. Its pid is also its process group id and session id. */
export interface SpawnedChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything that was exec'd, prefixes and setpriv included. */
  readonly argv: readonly string[];
  /** Whether setpriv set a parent-death signal. */
  readonly parentDeathSignal: boolean;
  /** Settles when the direct child has exited (its descendants may live on); never rejects. */
  readonly exited: Promise<ExitStatus>;
}

/** The child could not be started at all: a bad user, group or working directory, or exec failed. */
export class SpawnError extends CorralError<'UNKNOWN_USER' | 'UNKNOWN_GROUP' | 'BAD_CWD' | 'SPAWN_FAILED'> {
  readonly argv0: string;

  constructor(code: SpawnError['code'], argv0: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.argv0 = argv0;
  }
}

/**
 * Starts a child as described in the module doc. Resolves once the kernel has exec'd it (Node's
 * `spawn` event); rejects with a {@link SpawnError} when it could not start, leaving nothing
 * running. Must be called from the main thread.
 */
export async function spawnChild(options: SpawnOptions): Promise<SpawnedChild> {
  const argv0 = options.argv[0];
  if (argv0 === undefined) throw new SpawnError('SPAWN_FAILED', '', 'empty command');
  const cwd = options.cwd ?? process.cwd();
  const cwdInfo = await stat(cwd).catch(() => undefined);
  if (!cwdInfo?.isDirectory()) {
    throw new SpawnError('BAD_CWD', argv0, `working directory ${cwd} does not exist`);
  }

  const setpriv = systemTool('setpriv');
  const identity = await resolveIdentity(options.user, options.group, argv0);
  const wantDeathSignal = (options.parentDeathSignal ?? true) && setpriv !== undefined;
  const setprivArgs: string[] = [];
  if (setpriv !== undefined && identity) setprivArgs.push(...identity.setprivArgs);
  if (wantDeathSignal) setprivArgs.push('--pdeathsig', 'KILL');
  const argv = [
    ...(options.prefix ?? []),
    ...(setpriv !== undefined && setprivArgs.length ? [setpriv, ...setprivArgs, '--'] : []),
    ...options.argv,
  ];

  const env = childEnv(options.env, options.baseEnv);
  const [command = argv0, ...args] = argv;
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', options.stdout ?? 'pipe', options.stderr ?? 'pipe'],
    // Without setpriv, Node switches credentials itself (after clearing supplementary groups).
    ...(setpriv === undefined && identity ? { uid: identity.uid, gid: identity.gid } : {}),
  });
  if (child.pid !== undefined) options.onFork?.(child.pid);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (exitCode, signal) => {
      resolve({ exitCode, signal });
    });
  });
  await once(child, 'spawn').catch((error: unknown) => {
    // Out of descriptors, Node names the first program of the chain (a prefix, setpriv), not ours.
    const why = isOutOfFiles(error) ? describeOutOfFiles(error) : (error as Error).message;
    throw new SpawnError('SPAWN_FAILED', argv0, `could not start ${argv0}: ${why}`, { cause: error });
  });
  // Later errors (a failed kill or send) must not crash Corral; it signals groups itself anyway.
  child.on('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new SpawnError('SPAWN_FAILED', argv0, `could not start ${argv0}`);
  return { child, pid, argv, parentDeathSignal: wantDeathSignal, exited };
}

/** `base` (Corral's environment) with `overrides` applied (`undefined` removes a variable). */
export function childEnv(overrides: SpawnOptions['env'] = {}, base = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) Reflect.deleteProperty(env, key);
    else env[key] = value;
  }
  return env;
}

interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly setprivArgs: readonly string[];
}

/** Resolves names to ids before anything starts, so a typo fails with a clear error. */
async function resolveIdentity(
  user: string | number | undefined,
  group: string | number | undefined,
  argv0: string,
): Promise<Identity | undefined> {
  if (user === undefined && group === undefined) return undefined;
  let uid = process.getuid?.() ?? 0;
  let gid: number | undefined;
  const args: string[] = [];
  if (user !== undefined) {
    const entry = await getent('passwd', String(user), argv0);
    if (!entry) {
      throw new SpawnError('UNKNOWN_USER', argv0, `user \`${String(user)}\` does not exist`);
    }
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    // The user's own supplementary groups, as login would set them, not Corral's.
    args.push('--reuid', String(uid), '--init-groups');
  }
  if (group !== undefined) {
    const entry = await getent('group', String(group), argv0);
    if (!entry) {
      throw new SpawnError('UNKNOWN_GROUP', argv0, `group \`${String(group)}\` does not exist`);
    }
    gid = Number(entry[2]);
    // Only a group asked for: drop Corral's supplementary groups rather than keep them.
    if (user === undefined) args.push('--clear-groups');
  }
  args.push('--regid', String(gid));
  return { uid, gid: gid ?? 0, setprivArgs: args };
}

/**
 * One `getent` entry split on `:`, or `undefined` when there is none. Accepts names and ids.
 * Rejects when the lookup itself failed (getent could not run, out of file descriptors…): that
 * says nothing about whether the entry exists.
 */
function getent(database: 'passwd' | 'group', key: string, argv0: string): Promise<string[] | undefined> {
  return new Promise((resolve, reject) => {
    execFile(systemTool('getent') ?? 'getent', [database, key], (error, stdout) => {
      // getent exits 2 when the key is not in the database.
      if (!error || error.code === 2) {
        resolve(error ? undefined : stdout.trim().split('\n')[0]?.split(':'));
        return;
      }
      const what = `${database === 'passwd' ? 'user' : 'group'} \`${key}\``;
      const why = isOutOfFiles(error) ? describeOutOfFiles(error) : error.message;
      reject(new SpawnError('SPAWN_FAILED', argv0, `could not look up ${what}: ${why}`, { cause: error }));
    });
  });
}
