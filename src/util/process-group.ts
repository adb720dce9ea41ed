/**
 * Sends `signal` to every member of process group `pgid` and returns true; returns false when no
 * process carries the pgid any more (ESRCH), which for a caller stopping the group means its work
 * is done. Any other failure (EPERM: every member left has changed its user) is thrown. The pgid
 * cannot have been reused while any member lives: the kernel keeps an id in use as long as a group
 * or session carries it.
 */
export function signalGroupUnlessGone(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
