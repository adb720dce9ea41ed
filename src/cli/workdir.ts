import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The directory generated files (Envoy's bootstrap copy, the Corefile) are written to. */
export interface WorkDir {
  readonly path: string;
  /** Whether Corral made it, to be removed on exit (by the watchdog, if Corral is killed). */
  readonly temporary: boolean;
  /** Removes the directory if Corral created it; a configured one is kept. Idempotent. */
  release(): Promise<void>;
}

/**
 * Uses `configured` (created if missing, kept on exit), or makes a private temporary directory
 * (mode 0700, since it may hold bootstrap files with credentials) that `release` removes.
 */
export async function openWorkDir(configured: string | undefined): Promise<WorkDir> {
  if (configured) {
    const path = resolve(configured);
    await mkdir(path, { recursive: true, mode: 0o700 });
    return { path, temporary: false, release: () => Promise.resolve() };
  }
  const path = await mkdtemp(join(tmpdir(), 'corral-'));
  let released = false;
  return {
    path,
    temporary: true,
    // eslint-disable-next-line @typescript-eslint/require-await -- the interface's promise, a sync body
    async release() {
      if (released) return;
      released = true;
      // Synchronous: this runs as Corral exits, where the promise version's several thread-pool
      // round trips for one small directory are a millisecond of every shutdown.
      rmSync(path, { recursive: true, force: true });
    },
  };
}
