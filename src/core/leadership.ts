/**
 * Leader election, as the manager sees it: a sequence of terms, each with a fencing token strictly
 * greater than every earlier one. The manager runs `leader` components for the length of a term and
 * hands leadership back only after all of them have finished, so terms never overlap in a process.
 */
export interface LeaderElector {
  /**
   * Campaigns until `signal` aborts. For each term won it calls `lead(term)` and keeps (renews) the
   * leadership until the returned promise settles; only then does it release and, unless stopped,
   * campaign again. When leadership is at risk (a renewal failed, the lease is about to run out) it
   * aborts `term.signal` early enough that `lead` can stop its work before anyone else can win.
   * Resolves after the last term was released; rejects only on an error it cannot retry.
   */
  run(signal: AbortSignal, lead: (term: Term) => Promise<void>): Promise<void>;
}

/** One term of leadership. */
export interface Term {
  /** The fencing token: strictly greater than every earlier term's, across all replicas. */
  readonly token: number;
  /** Aborts when the term is over or must be given up now. */
  readonly signal: AbortSignal;
}

/**
 * The embedded default: a single instance that is always leader, for one term with token 1 that
 * lasts until `signal` aborts.
 */
export class AlwaysLeader implements LeaderElector {
  async run(signal: AbortSignal, lead: (term: Term) => Promise<void>): Promise<void> {
    if (signal.aborted) return;
    await lead({ token: 1, signal });
  }
}
