import { describeOutOfFiles, isOutOfFiles } from '../process/open-files.js';
import { describe } from '../core/errors.js';

/**
 * One line for what kept `corral` from starting (a module it could not load, a set-up step that
 * failed), for stderr: never a stack trace. bin/corral.js imports this before the rest of Corral,
 * so that it can report a failure to load the rest; keep its imports few and small.
 */
export function describeStartFailure(error: unknown): string {
  return `cannot start: ${isOutOfFiles(error) ? describeOutOfFiles(error) : describe(error)}`;
}
