import { accessSync, constants, statSync } from 'node:fs';

/**
 * The system tools Corral's containment runs itself (util-linux's `setpriv` and `unshare`,
 * coreutils' `mkfifo`, `sleep`, `rm`, `rmdir`), found in fixed system directories and never
 * through PATH: a stack may set any PATH for its components, or none, and the layers that keep
 * their processes from outliving Corral must work all the same.
 */

/** Where system tools live, in the order they are looked for. */
export const SYSTEM_DIRS: readonly string[] = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

const found = new Map<string, string | undefined>();

/**
 * The absolute path of system tool `name` (an executable file in {@link SYSTEM_DIRS}), or
 * `undefined` when it is not installed. Looked up once per process: system tools do not come and go.
 */
export function systemTool(name: string): string | undefined {
  if (found.has(name)) return found.get(name);
  const path = SYSTEM_DIRS.map((dir) => `${dir}/${name}`).find(isExecutableFile);
  found.set(name, path);
  return path;
}

/** {@link systemTool}, or an Error naming the tool and where it was looked for. */
export function requireSystemTool(name: string): string {
  const path = systemTool(name);
  if (path === undefined) throw new Error(`\`${name}\` is not installed in ${SYSTEM_DIRS.join(', ')}`);
  return path;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
