import { constants, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { insideNamespace } from '../containment/namespace.js';
import { CorralError } from '../core/errors.js';
import { fsProblem } from '../util/fs-problem.js';

/** The directory generated files (Envoy's bootstrap copy, the Corefile) are written to. */
export interface WorkDir {
  readonly path: string;
  /** Whether Corral made it, to be removed on exit (by the watchdog, if Corral is killed). */
  readonly temporary: boolean;
  /** Lets the directory go: removes it if Corral created it; a configured one is kept. Idempotent. */
  release(): Promise<void>;
}

/**
 * The work dir cannot be used. `code` is `WORK_DIR_UNUSABLE` (it cannot be created or written to)
 * or `WORK_DIR_IN_USE` (another run holds it; `holder` is its pid when it said). The message names
 * the stack file's `workDir` when the directory is the configured one.
 */
export class WorkDirError extends CorralError<'WORK_DIR_UNUSABLE' | 'WORK_DIR_IN_USE'> {
  readonly path: string;
  readonly holder: number | undefined;

  constructor(
    code: WorkDirError['code'],
    path: string,
    message: string,
    options: ErrorOptions & { holder?: number } = {},
  ) {
    super(code, message, options);
    this.path = path;
    this.holder = options.holder;
  }
}

export interface WorkDirOptions {
  /** The stack file, which a second run that wants the same work dir is told about. */
  readonly stackFile: string;
}

/**
 * Uses `configured` (created if missing, kept on exit, held by this run alone until `release` or
 * its exit), or makes a private temporary directory (mode 0700, since it may hold bootstrap files
 * with credentials) that `release` removes. Rejects with {@link WorkDirError}; creates nothing
 * that it does not remove when it rejects.
 */
export async function openWorkDir(configured: string | undefined, options: WorkDirOptions): Promise<WorkDir> {
  if (configured) return openConfigured(resolve(configured), options);
  let path: string;
  try {
    path = await mkdtemp(join(tmpdir(), 'corral-'));
  } catch (error) {
    throw new WorkDirError(
      'WORK_DIR_UNUSABLE',
      tmpdir(),
      `cannot create a temporary work dir in ${tmpdir()}: ${fsProblem(error)} (set TMPDIR, or workDir in the stack file)`,
      { cause: error },
    );
  }
  let released = false;
  return {
    path,
    temporary: true,
    // eslint-disable-next-line @typescript-eslint/require-await -- the interface's promise, a sync body
    async release() {
      if (released) return;
      released = true;
      // Synchronous: this runs as Corral exits, where thread-pool round trips only add delay.
      rmSync(path, { recursive: true, force: true });
    },
  };
}

async function openConfigured(path: string, options: WorkDirOptions): Promise<WorkDir> {
  const unusable = (problem: string, cause: unknown) =>
    new WorkDirError('WORK_DIR_UNUSABLE', path, `workDir: cannot use ${path}: ${problem}`, { cause });
  try {
    await makeDirectory(path);
    if (!(await stat(path)).isDirectory()) throw unusable('it is not a directory', undefined);
    // An existing directory on a read-only mount (or, for another user than root, without write
    // permission) passes the step above, and would fail only once a component is being prepared.
    await access(path, constants.W_OK);
  } catch (error) {
    throw error instanceof WorkDirError ? error : unusable(fsProblem(error), error);
  }
  const real = await realpath(path).catch((error: unknown) => {
    throw unusable(fsProblem(error), error);
  });
  // Imported only by a stack with a work dir of its own: the lock needs node:crypto and node:net,
  // which a run keeps in memory for as long as it runs.
  const { lockWorkDir } = await import('./workdir-lock.js');
  // Inside Corral's own PID namespace our pid means nothing to whoever reads the message: give the
  // outer Corral's, which the host sees.
  const namespace = insideNamespace();
  const pid = namespace.inside ? namespace.outerPid : process.pid;
  const taken = await lockWorkDir(real, { pid, stackFile: resolve(options.stackFile) });
  if ('heldBy' in taken) {
    const holder = taken.heldBy;
    const who = holder
      ? `another corral run (pid ${holder.pid}, stack file ${holder.stackFile})`
      : 'another corral run';
    throw new WorkDirError('WORK_DIR_IN_USE', path, `workDir: ${path} is in use by ${who}`, {
      ...(holder && { holder: holder.pid }),
    });
  }
  return { path, temporary: false, release: () => taken.lock.release() };
}

/**
 * `mkdir -p` with mode 0700, one level at a time: Node's recursive mkdir reports a read-only file
 * system as ENOENT, which would make the message lie. Whatever exists at `path` is left as it is.
 */
async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' && dirname(path) !== path) {
      await makeDirectory(dirname(path));
      await mkdir(path, { mode: 0o700 }).catch((again: unknown) => {
        // Made meanwhile by someone else: fine, if it is a directory (the caller checks).
        if ((again as { code?: unknown }).code !== 'EEXIST') throw again;
      });
    } else if (code !== 'EEXIST') {
      throw error;
    }
  }
}
