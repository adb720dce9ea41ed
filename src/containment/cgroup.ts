import { constants, existsSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { WarningEvent } from '../core/events.js';
import { CgroupParent, removeTree } from './cgroup-tree.js';
import { isAlive } from './liveness.js';

export { CgroupParent, ComponentCgroup, killByPids } from './cgroup-tree.js';

/**
 * cgroup v2 containment: every component gets its own cgroup under `corral-<pid>/`, so that
 * descendants which leave the component's process group (`setsid`, daemonizing double forks)
 * can still be found and killed with `cgroup.kill`.
 *
 * Layout, below the cgroup this process already lives in (read from /proc/self/cgroup):
 *
 *     <own cgroup>/                 Corral itself stays here
 *       corral-<pid>/               no processes of its own (cgroup v2's no-internal-process rule)
 *         <component>/              the component's processes, and only them
 *
 * Creating the tree below our own cgroup is what delegation allows: moving a process between two
 * cgroups needs write access to `cgroup.procs` of their common ancestor, which is our own cgroup.
 */

export type CgroupDetection =
  | { readonly available: true; readonly parent: CgroupParent; readonly removedStale: readonly string[] }
  /** `warning` is the event the caller emits once at start-up; nothing was created. */
  | { readonly available: false; readonly reason: string; readonly warning: WarningEvent };

export interface DetectOptions {
  /**
   * The pid in the directory name `corral-<pid>`. Inside Corral's PID namespace pass the pid of
   * the process outside (every namespaced Corral is pid 2, and their names would collide).
   * @default process.pid
   */
  readonly ownerPid?: number;
  /**
   * Remove empty `corral-<pid>` directories whose pid is gone. Turn off where pids of other
   * Corrals are not visible (inside a PID namespace), as they would all look dead.
   * @default true
   */
  readonly removeStale?: boolean;
  /** Where to read `self/mountinfo` and `self/cgroup`; for tests. @default '/proc' */
  readonly procRoot?: string;
}

/**
 * Finds a writable cgroup v2 hierarchy and creates `corral-<ownerPid>/` in it. Never throws:
 * anything that prevents containment becomes `{ available: false, reason, warning }`.
 * On success the directory is removed at process exit if empty (see {@link CgroupParent.close}).
 */
export async function detectCgroups(options: DetectOptions = {}): Promise<CgroupDetection> {
  const procRoot = options.procRoot ?? '/proc';
  const unavailable = (reason: string): CgroupDetection => ({
    available: false,
    reason,
    warning: {
      type: 'warning',
      code: 'CGROUP_UNAVAILABLE',
      message: `no writable cgroup v2 hierarchy (${reason}); descendants that leave their process group (setsid, daemons) cannot be tracked, and may survive Corral`,
    },
  });
  let ownDir: string;
  try {
    const mounts = parseCgroup2Mounts(await readFile(join(procRoot, 'self/mountinfo'), 'utf8'));
    if (mounts.length === 0) return unavailable('no cgroup2 filesystem in /proc/self/mountinfo');
    const own = parseOwnCgroup(await readFile(join(procRoot, 'self/cgroup'), 'utf8'));
    if (own === undefined) return unavailable('no "0::" line in /proc/self/cgroup');
    const dir = resolveCgroupDir(mounts, own);
    if (dir === undefined) return unavailable(`own cgroup ${own} is not below any cgroup2 mount`);
    ownDir = dir;
  } catch (error) {
    return unavailable(`cannot read /proc: ${(error as Error).message}`);
  }
  const removedStale = options.removeStale === false ? [] : await removeStaleParents(ownDir);
  const path = join(ownDir, `corral-${options.ownerPid ?? process.pid}`);
  try {
    await mkdir(path, { recursive: true });
    // Moving our children needs write access to the common ancestor's cgroup.procs (ours).
    await access(join(ownDir, 'cgroup.procs'), constants.W_OK);
    await access(join(path, 'cgroup.procs'), constants.W_OK);
    const type = await readFile(join(path, 'cgroup.type'), 'utf8').catch(() => 'domain\n');
    if (type.trim() !== 'domain') {
      await rmdir(path).catch(() => undefined);
      return unavailable(`${path} is a "${type.trim()}" cgroup, not a domain`);
    }
  } catch (error) {
    await rmdir(path).catch(() => undefined);
    return unavailable(`cannot create ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return { available: true, parent: new CgroupParent(path), removedStale };
}

/** A cgroup2 mount: where it is mounted, and which cgroup of the hierarchy is its root. */
export interface Cgroup2Mount {
  readonly mountPoint: string;
  readonly root: string;
}

/** Every cgroup2 mount in a /proc/self/mountinfo text (fields: proc(5), "mountinfo"). */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const mounts: Cgroup2Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    // Optional fields end at a lone "-", followed by the filesystem type.
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields[separator + 1] !== 'cgroup2') continue;
    const root = fields[3];
    const mountPoint = fields[4];
    if (root !== undefined && mountPoint !== undefined) {
      mounts.push({ root: unescapeMountField(root), mountPoint: unescapeMountField(mountPoint) });
    }
  }
  return mounts;
}

/** The unified-hierarchy cgroup ("0::/path") of a /proc/<pid>/cgroup text. */
export function parseOwnCgroup(procCgroup: string): string | undefined {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line?.slice(3);
}

/** The directory of cgroup `own` through the first mount whose root contains it. */
export function resolveCgroupDir(mounts: readonly Cgroup2Mount[], own: string): string | undefined {
  for (const { root, mountPoint } of mounts) {
    if (own === root) return mountPoint;
    const prefix = root.endsWith('/') ? root : `${root}/`;
    if (own.startsWith(prefix)) return join(mountPoint, own.slice(prefix.length));
  }
  return undefined;
}

/** mountinfo escapes space, tab, newline and backslash as three octal digits. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Finds `corral-<pid>` siblings whose Corral is gone (no such process, or a zombie not yet reaped)
 * and removes them if empty.
 */
async function removeStaleParents(ownDir: string): Promise<string[]> {
  const removed: string[] = [];
  const names = await readdir(ownDir).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^corral-(\d+)$/.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const path = join(ownDir, name);
    await removeTree(path);
    if (!existsSync(path)) removed.push(path);
  }
  return removed;
}
