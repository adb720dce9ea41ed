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

/**
 * Sends `signal` to `pid` (to group `-pid` when negative) and returns whether it was delivered,
 * for a best-effort kill: a process already gone (ESRCH), or out of Corral's reach because it
 * changed its user (EPERM), leaves nothing more to do.
 */
export function signalQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
