import type { Term } from '../core/leadership.js';
import { LeadershipLostError, type LeadershipLoss } from './errors.js';
import { CorralError, formatMs } from '../core/errors.js';
import type { Lease, Won } from './lease.js';
import type { ElectorSettings } from './options.js';
import type { Session } from './session.js';
import { isAborted } from '../util/abort.js';

/** What holding a term needs from the elector. */
export interface TermContext {
  readonly settings: ElectorSettings;
  readonly lease: Lease;
  readonly warn: (code: string, message: string) => void;
}

/**
 * Holds a won term: calls `lead`, renews until it settled, and aborts the term signal
 * - when the run stops (renewals go on until `lead` settled, so the lease is kept meanwhile),
 * - at once when the session is lost (a follower may take over after the grace),
 * - when a renewal finds the lease taken,
 * - at the deadline: no renewal succeeded within `renewDeadline` of sending the last good one,
 *   by our own monotonic clock. The database cannot expire that renewal before `sentAt + lease`,
 *   so leader components get `lease - renewDeadline` to stop before anyone else can win.
 * Resolves with `lead`'s failure, if any, once lead settled and renewing stopped; never rejects.
 */
export async function holdTerm(
  { settings, lease, warn }: TermContext,
  session: Session,
  won: Won,
  lead: (term: Term) => Promise<void>,
  signal: AbortSignal,
): Promise<{ error: unknown } | undefined> {
  const { clock, renewDeadline, renewInterval, name, redactor } = settings;
  const term = new AbortController();
  /** Aborted when renewing is over: lead settled, or the term cannot be kept. */
  const renewal = new AbortController();
  let lastSent = won.sentAt;

  const lose = (code: LeadershipLoss, message: string): void => {
    if (renewal.signal.aborted) return;
    renewal.abort();
    const error = new LeadershipLostError(code, name, won.token, message);
    warn(error.code, error.message);
    if (!term.signal.aborted) term.abort(error);
  };
  const pastDeadline = (): boolean => {
    const now = clock.now();
    if (now < lastSent + renewDeadline) return false;
    lose(
      'LEADER_DEADLINE_PASSED',
      `leader election \`${name}\`: term ${won.token} was not renewed within ${formatMs(renewDeadline)} (last renewal sent ${formatMs(now - lastSent)} ago); stepping down`,
    );
    return true;
  };
  const onLost = (): void => {
    lose(
      'LEADER_SESSION_LOST',
      `leader election \`${name}\`: lost the database session during term ${won.token} (${redactor.describe(session.lost.reason)}); stepping down`,
    );
  };
  const onStop = (): void => {
    if (!term.signal.aborted) term.abort(signal.reason);
  };
  session.lost.addEventListener('abort', onLost, { once: true, signal: renewal.signal });
  signal.addEventListener('abort', onStop, { once: true, signal: renewal.signal });
  if (session.lost.aborted) onLost();
  if (signal.aborted) onStop();

  // The deadline; re-read after every wake, since renewals move it.
  const watching = (async () => {
    while (!renewal.signal.aborted && !pastDeadline()) {
      await clock.sleep(lastSent + renewDeadline - clock.now(), renewal.signal).catch(() => undefined);
    }
  })();
  const renewing = (async () => {
    while (!renewal.signal.aborted) {
      await clock.sleep(renewInterval, renewal.signal).catch(() => undefined);
      // A process that stalled (SIGSTOP, a long pause) wakes up here: look at the clock first.
      if (isAborted(renewal.signal) || pastDeadline()) return;
      const sentAt = clock.now();
      const timeout = lastSent + renewDeadline - sentAt;
      try {
        if (settings.sessionLock && !session.holdsLock) await lease.tryLock(session, timeout);
        const renewed = await lease.renew(session, won.token, timeout);
        // The deadline may have passed while the renewal was in flight; a late success changes nothing.
        if (isAborted(renewal.signal)) return;
        if (!renewed) {
          lose(
            'LEADER_LEASE_LOST',
            `leader election \`${name}\`: term ${won.token} was taken over before its deadline (check that renewDeadline < lease and that the database clock did not jump); stepping down`,
          );
          return;
        }
        lastSent = Math.max(lastSent, sentAt);
      } catch (error) {
        // A lost session is onLost's business; anything else is retried until the deadline.
        if (session.lost.aborted || isAborted(renewal.signal)) return;
        warn(
          'LEADER_RENEW_FAILED',
          `leader election \`${name}\`: renewing term ${won.token} failed (${redactor.describe(error)}); retrying until the deadline`,
        );
      }
    }
  })();

  settings.emit({ type: 'leader.elected', term: won.token });
  let failure: { error: unknown } | undefined;
  try {
    await lead({ token: won.token, signal: term.signal });
  } catch (error) {
    failure = { error };
  }
  renewal.abort();
  await Promise.all([watching, renewing]);
  if (!term.signal.aborted) term.abort(new CorralError('LEADER_TERM_OVER', `term ${won.token} is over`));
  return failure;
}
