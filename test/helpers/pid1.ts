import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { isAlive, listProcesses } from '../../src/containment/liveness.js';
import { checkNamespaceSupport } from '../../src/containment/namespace.js';
import { startCorral, type Corral, type CorralOptions } from './cli.js';
import { waitUntil } from './process.js';

/**
 * `corral` as a container's entrypoint: `unshare --pid --fork --mount-proc` makes what it runs PID 1
 * of a new PID namespace, as a container runtime does. Tests see every process from outside, by its
 * host pid.
 */

const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', '--'];

/** Why PID-1 tests cannot run here (they need root), or false. */
export async function pid1Unavailable(): Promise<string | false> {
  const support = await checkNamespaceSupport();
  if (!support.available) return support.reason;
  return support.userNamespace ? 'needs root: a PID namespace without a user namespace' : false;
}

/**
 * `corral <args>` as PID 1 of a new PID namespace, started as a container runtime starts an
 * entrypoint: `bin/corral`, the launcher. `child` is unshare, whose
 * exit status is PID 1's; SIGKILLing it ends the namespace (`--kill-child`).
 */
export function startAsPid1(args: string[], options: Pick<CorralOptions, 'cwd' | 'env'> = {}): Corral {
  return startCorral(args, { ...options, prefix: UNSHARE, viaLauncher: true });
}

/** PID 1 of the namespace (its host pid): unshare's child, once it runs what unshare was given. */
export async function pid1Of(corral: Corral): Promise<number> {
  const unshare = corral.child.pid ?? -1;
  let pid1: number | undefined;
  await waitUntil(() => {
    const child = listProcesses().find((p) => p.ppid === unshare && p.state !== 'Z');
    pid1 = child && child.comm !== 'unshare' ? child.pid : undefined;
    return pid1 !== undefined;
  }, 'PID 1 of the namespace');
  // Never a pid to signal that is not one process: kill(-1) reaches every process there is.
  assert.ok(pid1 !== undefined && pid1 > 1);
  return pid1;
}

/** Corral under its init (host pid), the init's `node` child; fails rather than return no pid. */
export function corralUnder(pid1: number): number {
  const pid = listProcesses().find((p) => p.ppid === pid1 && p.comm === 'node')?.pid;
  assert.ok(pid !== undefined && pid > 1, 'Corral runs as a child of the init');
  return pid;
}

/** The PID namespace a process is in, as the inode link of /proc/<pid>/ns/pid. */
export function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Every live process in namespace `ns` (host pids). */
export function membersOf(ns: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pidNamespace(pid) === ns && isAlive(pid));
}
