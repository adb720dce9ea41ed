import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * For tests that run something as another user (as root, through setpriv or a spawn option): the
 * checkout may lie where that user cannot enter (a 0700 home directory, a `mktemp -d` directory),
 * so what the user must read or run is copied to a place it can reach first.
 */

/** The checkout's root directory. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A user's uid and primary gid. */
export function userIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => {
    const run = spawnSync('id', [flag, user], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`no user ${user}: ${run.stderr.trim()}`);
    return Number(run.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

export interface UserCopy {
  /** The new directory, owned by the user. */
  readonly dir: string;
  /** Where `source` (a path relative to the checkout, as given) was copied to. */
  readonly path: (source: string) => string;
  /** Removes the copy; idempotent. */
  readonly cleanup: () => void;
}

/**
 * Copies `sources` (files or directories, relative to the checkout) to the same relative places
 * in a new directory under the system's temporary directory, all owned by `user`, and checks that
 * the user can reach them. Needs root. Pair with `cleanup`, e.g. in `t.after`.
 */
export function copyForUser(user: string, sources: readonly string[]): UserCopy {
  const { uid, gid } = userIds(user);
  const dir = mkdtempSync(join(tmpdir(), 'corral-as-user-'));
  const copy: UserCopy = {
    dir,
    path: (source) => join(dir, source),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  try {
    for (const source of sources) cpSync(join(ROOT, source), copy.path(source), { recursive: true });
    chownTree(dir, uid, gid);
    const probe = spawnSync(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'test', '-r', copy.path(sources[0] ?? '')],
      { encoding: 'utf8' },
    );
    if (probe.status !== 0) {
      throw new Error(`${user} cannot reach ${dir}: is the temporary directory (${tmpdir()}) open to it?`);
    }
  } catch (error) {
    copy.cleanup();
    throw error;
  }
  return copy;
}

/**
 * The built CLI (`bin/corral.js`, `dist/`, `package.json` and the production dependencies) copied
 * for `user`; run `copy.path('bin/corral.js')`. Build first.
 */
export function cliForUser(user: string): UserCopy {
  return copyForUser(user, ['bin/corral.js', 'package.json', 'dist', ...productionPackages()]);
}

/** The installed packages the production dependencies need, transitively, relative to the checkout. */
function productionPackages(): string[] {
  const found = new Set<string>();
  const visit = (packageDir: string): void => {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
      const installed = installedPackage(name, packageDir);
      // A missing optional dependency is not installed anywhere: nothing to copy.
      if (installed === undefined || found.has(installed)) continue;
      found.add(installed);
      visit(installed);
    }
  };
  visit(ROOT);
  return [...found].map((path) => path.slice(ROOT.length));
}

/** Node's lookup: `node_modules/<name>` in `from` or the nearest directory above it that has one. */
function installedPackage(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Symlinks are changed themselves, never what they point to. */
function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}
