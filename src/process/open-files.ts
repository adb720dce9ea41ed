import { readFileSync } from 'node:fs';

/**
 * Running out of file descriptors, told apart from other failures so that it can be said plainly,
 * with the limit and the remedy: Node's own wording (`spawn /bin/sh EMFILE`) names neither.
 */

/** Whether `error` is Corral (EMFILE) or the whole system (ENFILE) running out of file descriptors. */
export function isOutOfFiles(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * One phrase for an {@link isOutOfFiles} error, e.g. ``too many open files (EMFILE, limit 64):
 * raise the limit with `ulimit -n` ``.
 */
export function describeOutOfFiles(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENFILE') return "the system's table of open files is full (ENFILE)";
  const limit = openFileLimit();
  return `too many open files (EMFILE${limit === undefined ? '' : `, limit ${limit}`}): raise the limit with \`ulimit -n\``;
}

/**
 * Corral's open-file limit, from /proc/self/limits (Node raises the soft limit to the hard one at
 * start-up, so either will do). `undefined` when it cannot be read, which is likely right after
 * EMFILE unless a descriptor has been closed since.
 */
function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line?.[1] === undefined ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}
