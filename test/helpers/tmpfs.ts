import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Small file systems of a test's own (needs root), for full disks and read-only mounts. */

/**
 * Runs `body` with a fresh tmpfs of `size` (`64k`, `1m`) mounted on a private directory, then
 * unmounts and removes it. Throws when it cannot be mounted: the tests that need one are not to
 * pass without it.
 */
export async function withTmpfs<T>(
  size: string,
  body: (mount: string) => Promise<T>,
  options: { readOnly?: boolean } = {},
): Promise<T> {
  const mount = mkdtempSync(join(tmpdir(), 'corral-tmpfs-'));
  try {
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${size}${options.readOnly ? ',ro' : ''}`,
      'tmpfs',
      mount,
    ]);
    try {
      return await body(mount);
    } finally {
      execFileSync('umount', ['-l', mount]);
    }
  } finally {
    rmSync(mount, { recursive: true, force: true });
  }
}

/** Writes to a new file at `path` until its file system is full. */
export function fillFileSystem(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}
