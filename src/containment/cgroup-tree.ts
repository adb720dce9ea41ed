import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signalQuietly } from '../util/process-group.js';

/**
 * The cgroups Corral creates (see cgroup.ts for how their place is found): `corral-<pid>/`, and
 * one child per run of a component, with the operations the stop path needs: join before exec,
 * signal all, kill all, remove. The stop path uses cgroupfs synchronously on
 * purpose: its files live in kernel memory, so a read or an rmdir never blocks, whereas the
 * promise API queues each call on libuv's small thread pool, behind every other stop's calls.
 */

/**
 * `corral-<pid>/` under Corral's own cgroup: the home of the component cgroups. Removed at
 * process exit when empty; a non-empty one (processes still inside) is left for the watchdog.
 */
export class CgroupParent {
  readonly path: string;
  /** Directory names handed out and not yet removed; keeps two components apart. */
  #inUse = new Set<string>();
  #onExit = (): void => this.closeSync();

  constructor(path: string) {
    this.path = path;
    process.once('exit', this.#onExit);
  }

  /**
   * Creates an empty cgroup for one run of a component. The directory is named after the
   * component, reduced to `[A-Za-z0-9_-]` (a dot could collide with interface files such as
   * `memory.max`), with `-2`, `-3` … when taken. Rejects if the directory cannot be created.
   */
  async createComponentCgroup(component: string): Promise<ComponentCgroup> {
    const base = component.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || '_';
    // A parent removed meanwhile (say by a namespaced Corral judging it stale) is recreated.
    await mkdir(this.path, { recursive: true });
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      if (this.#inUse.has(name)) continue;
      try {
        await mkdir(join(this.path, name));
      } catch (error) {
        // A leftover of an earlier run whose processes are still being killed: take another name.
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && n < 1000) continue;
        throw error;
      }
      this.#inUse.add(name);
      return new ComponentCgroup(join(this.path, name), () => this.#inUse.delete(name));
    }
  }

  /** Removes every empty component cgroup, then `corral-<pid>/` itself if that is possible. */
  async close(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    await removeTree(this.path);
  }

  /**
   * SIGKILLs every process in every component cgroup below, at once (`cgroup.kill`, Linux 5.14+).
   * Synchronous, for the last resort before an exit; a no-op on older kernels. Never throws.
   */
  killAllSync(): void {
    try {
      writeFileSync(join(this.path, 'cgroup.kill'), '1');
    } catch {
      // No cgroup.kill on this kernel, or the directory is gone.
    }
  }

  /** {@link close}, synchronously: for process `exit` handlers. Never throws. */
  closeSync(): void {
    process.removeListener('exit', this.#onExit);
    removeTreeSync(this.path);
  }
}

/**
 * The script that joins a cgroup before the real program starts. It is a fixed string, never
 * built from user input: the cgroup.procs path arrives as `$0` and the user's command as `"$@"`,
 * which the shell passes to `exec` word for word, with no splitting, globbing or expansion.
 * `exec` then replaces the shell by the program (same pid, same process group, parent-death
 * signal kept), so no shell remains. Exit status 125 means the join failed; the user's program
 * never ran.
 */
const JOIN_SCRIPT = 'echo $$ > "$0" || { echo "corral: cannot join cgroup $0" >&2; exit 125; }; exec "$@"';

/** One component's cgroup. Methods are safe to call after the directory is gone. */
export class ComponentCgroup {
  readonly path: string;
  readonly #eventsPath: string;
  /**
   * Put this before the command (and before any user switch, since the join needs Corral's
   * rights) so the child enters the cgroup before it runs a single instruction of the program:
   * `[...cgroup.joinPrefix, '/usr/sbin/nginx', '-g', 'daemon off;']`.
   */
  readonly joinPrefix: readonly string[];
  #release: () => void;

  constructor(path: string, release: () => void) {
    this.path = path;
    this.#eventsPath = join(path, 'cgroup.events');
    this.joinPrefix = ['/bin/sh', '-c', JOIN_SCRIPT, join(path, 'cgroup.procs')];
    this.#release = release;
  }

  /** Every pid in this cgroup and its descendant cgroups (zombies are not listed). */
  pids(): number[] {
    return collectPids(this.path);
  }

  /** Whether any live process is in the cgroup or below (`populated` of cgroup.events). */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(this.#eventsPath, 'utf8'));
    } catch {
      return false;
    }
  }

  /** Sends `signal` to every process in the cgroup; returns how many were signalled. */
  signal(signal: NodeJS.Signals): number {
    // One small read answers the usual case, an empty cgroup, without listing the directory.
    if (!this.populated()) return 0;
    let sent = 0;
    for (const pid of this.pids()) if (signalQuietly(pid, signal)) sent++;
    return sent;
  }

  /**
   * SIGKILLs every process in the cgroup, atomically with respect to forks, through `cgroup.kill`
   * (Linux 5.14+). On older kernels: freeze the cgroup so nothing can fork, SIGKILL every pid,
   * thaw, and repeat until nothing is left (frozen processes still die of SIGKILL).
   * Resolves once the kill is delivered, not once the processes are gone (see {@link populated}).
   */
  async kill(): Promise<void> {
    try {
      writeFileSync(join(this.path, 'cgroup.kill'), '1');
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(this.path)) return;
    }
    await killByPids(this.path);
  }

  /**
   * Removes the cgroup (and any cgroups the component created below it). Rejects with EBUSY while
   * processes are still inside; call it once {@link populated} is false. Idempotent.
   */
  async remove(): Promise<void> {
    await removeTree(this.path, { throwIfBusy: true });
    this.#release();
  }
}

/** Fallback of {@link ComponentCgroup.kill} for kernels without cgroup.kill (before 5.14). */
export async function killByPids(path: string): Promise<void> {
  const freeze = join(path, 'cgroup.freeze');
  for (let round = 0; round < 100; round++) {
    const frozen = await writeFile(freeze, '1')
      .then(() => true)
      .catch(() => false);
    const pids = collectPids(path);
    for (const pid of pids) signalQuietly(pid, 'SIGKILL');
    if (frozen) await writeFile(freeze, '0').catch(() => undefined);
    if (pids.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function collectPids(dir: string): number[] {
  let own = '';
  try {
    own = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    // Removed meanwhile: nothing inside.
  }
  const pids = own.split('\n').filter(Boolean).map(Number);
  for (const child of childCgroups(dir)) pids.push(...collectPids(child));
  return pids;
}

/** The cgroups directly below `dir`; none when it is gone. */
function childCgroups(dir: string): string[] {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => join(dir, entry.name));
  } catch {
    return [];
  }
}

/** rmdir of a cgroup and its descendant cgroups, deepest first (interface files need no unlink). */
export async function removeTree(dir: string, options: { throwIfBusy?: boolean } = {}): Promise<void> {
  let listed = false;
  for (let attempt = 0; ; attempt++) {
    const error = tryRmdir(dir);
    if (error === undefined || error.code === 'ENOENT') return;
    if (error.code === 'EBUSY' && !listed) {
      // A component rarely creates cgroups of its own: the directory is listed only when the
      // rmdir fails, and its cgroups removed before the next try.
      listed = true;
      for (const child of childCgroups(dir)) await removeTree(child, options);
      continue;
    }
    if (error.code !== 'EBUSY' || attempt > 20) {
      if (options.throwIfBusy) throw error;
      return;
    }
    // The kernel may report a cgroup empty a moment before rmdir accepts it; retry briefly.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** rmdir; returns the failure instead of throwing it. */
function tryRmdir(dir: string): NodeJS.ErrnoException | undefined {
  try {
    rmdirSync(dir);
    return undefined;
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
}

function removeTreeSync(dir: string): void {
  for (const child of childCgroups(dir)) removeTreeSync(child);
  try {
    rmdirSync(dir);
  } catch {
    // Busy (processes left for the watchdog) or gone: nothing more to do at exit.
  }
}
