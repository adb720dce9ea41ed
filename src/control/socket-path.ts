import { realpathSync } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CorralError } from '../core/errors.js';

/**
 * Where a run's control socket lives. By default in a directory of its own, mode 0700, named after
 * the user and the stack file's real path (`$XDG_RUNTIME_DIR/corral-<uid>-<hash>/control.sock`,
 * else in the temporary directory), so `corral status -f corral.yaml` finds the run of that file,
 * and the run can remove the directory when it ends (its watchdog does, if it is killed). The
 * directory is the access control: Node cannot ask a Unix socket who its peer is, so nobody but
 * the owner (and root) may even reach the socket.
 */

/**
 * The control socket cannot be served: its directory is not private (`CONTROL_SOCKET_UNUSABLE`),
 * or another run serves it (`CONTROL_SOCKET_IN_USE`).
 */
export class ControlSocketError extends CorralError<'CONTROL_SOCKET_UNUSABLE' | 'CONTROL_SOCKET_IN_USE'> {}

/** The default socket path for the run of `stackFile`. */
export function defaultSocketPath(stackFile: string, env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  let file = resolve(stackFile);
  try {
    file = realpathSync(file);
  } catch {
    // A file that is gone: its resolved path still names the run that was started from it.
  }
  // A hash keeps the path under the 108 bytes a socket address holds, whatever the file's path.
  return join(env.XDG_RUNTIME_DIR || tmpdir(), `corral-${uid}-${fnv1a(file)}`, 'control.sock');
}

/**
 * FNV-1a, 64 bits, as hex: enough to tell stack files apart. Not node:crypto, which a plain run
 * would otherwise keep in memory for this alone.
 */
function fnv1a(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/**
 * Makes `socketPath`'s directory (mode 0700), or checks the one that is there: a real directory
 * (not a symlink), owned by this user, that nobody else may enter. Resolves to whether it made
 * the directory (or one above it). Rejects with
 * {@link ControlSocketError} otherwise, changing nothing: loosening or tightening a directory
 * someone chose (`--socket /tmp/x.sock`) is not ours to do.
 */
export async function privateSocketDir(socketPath: string): Promise<{ created: boolean }> {
  const dir = dirname(socketPath);
  const unusable = (problem: string) =>
    new ControlSocketError(
      'CONTROL_SOCKET_UNUSABLE',
      `control socket directory ${dir}: ${problem} (it must be a directory of mode 0700 owned by this user)`,
    );
  let info;
  let created;
  try {
    created = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
    info = await lstat(dir);
  } catch (error) {
    throw unusable((error as Error).message);
  }
  if (!info.isDirectory()) throw unusable('not a directory');
  const uid = process.getuid?.() ?? info.uid;
  if (info.uid !== uid) throw unusable(`owned by uid ${info.uid}`);
  if ((info.mode & 0o077) !== 0) throw unusable(`mode ${(info.mode & 0o777).toString(8)}`);
  return { created };
}
