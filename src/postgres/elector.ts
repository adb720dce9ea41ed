import { randomUUID } from 'node:crypto';
import { backoffDelay } from '../core/backoff.js';
import { CorralError, formatMs } from '../core/errors.js';
import type { LeaderElector, Term } from '../core/leadership.js';
import { Lease, type Won } from './lease.js';
import { validateOptions, type ElectorSettings, type PostgresElectorOptions } from './options.js';
import { Session } from './session.js';
import { holdTerm } from './term.js';
import { isAborted } from '../util/abort.js';
import { classify, type FailureKind } from './connection.js';

export type { PostgresElectorOptions } from './options.js';

/**
 * Leader election on PostgreSQL (13 or newer, no extensions). The mechanism, and why:
 *
 * - A **lease row** per election is the authority. A term starts with a conditional UPDATE that
 *   increments the row's `token`, the fencing token, so tokens are strictly increasing and live in
 *   the database. Expiry is judged by the database's clock alone, so replica clock skew is moot.
 * - The leader gives up (aborts `term.signal`) when no renewal succeeded within `renewDeadline`
 *   of *sending* the last good one, measured on its own monotonic clock; the database cannot
 *   expire that renewal before `sentAt + lease`. So a leader that is cut off or stalled is told to
 *   stop `lease - renewDeadline` before anyone else can win, and one that wakes from a stall
 *   checks its clock before it touches anything.
 * - A **session advisory lock**, held by the leader (and by the one follower next in line), makes
 *   failover fast: a crashed process's TCP connection closes, its backend exits and the lock is
 *   granted at once to a follower blocked on it. A lease alone could only fail over after the
 *   lease, unless the lease were about a second long and renewed several times a second. The lock
 *   never decides who leads; it only tells the next follower that the leader's *session* ended.
 *   That follower still waits `lease - renewDeadline`, because a session can also end under a
 *   living leader (pg_terminate_backend, a database restart): such a leader is told at once by its
 *   connection, and gets the same time to stop its components as one that missed its deadline.
 * - A clean stop releases the row, then the lock: the follower blocked on the lock wakes and takes
 *   over within milliseconds.
 *
 * Limits: a transaction-pooling pgbouncer cannot carry session locks; use `sessionLock: false`
 * there (lease row only, failover after `lease`). If the server ends the leader's session while
 * the network between them is cut (both faults at once), the leader only learns at its deadline,
 * and terms can overlap by up to `renewDeadline - (lease - renewDeadline)`: fencing tokens are the
 * backstop. The database's wall clock must not step (slewing is fine). See docs/leader-election.md.
 */
export class PostgresElector implements LeaderElector {
  readonly #s: ElectorSettings;
  readonly #lease: Lease;
  #running = false;

  /** Validates `options` at once; throws {@link LeaderConfigError} naming the option at fault. */
  constructor(options: PostgresElectorOptions) {
    this.#s = validateOptions(options);
    // The identity plus a random suffix: unique per instance, so "our own finished term" is never another's.
    this.#lease = new Lease(this.#s, `${this.#s.identity}#${randomUUID().slice(0, 8)}`);
  }

  /** The connection string, its credentials, query and fragment as `***`: safe for logs and metric labels. */
  get target(): string {
    return this.#s.target;
  }

  get name(): string {
    return this.#s.name;
  }

  /** How this instance appears as `holder` in the lease row. */
  get holder(): string {
    return this.#lease.holder;
  }

  /**
   * See {@link LeaderElector.run}. Never rejects for database trouble: an unreachable server,
   * refused credentials or a failing query are `warning` events and retried with backoff, so the
   * rest of the application keeps running. Rejects only with `lead`'s own error (after releasing
   * the term) or when called while already running.
   */
  async run(signal: AbortSignal, lead: (term: Term) => Promise<void>): Promise<void> {
    if (this.#running) {
      throw new CorralError('LEADER_ALREADY_RUNNING', `leader election \`${this.name}\` is already running`);
    }
    this.#running = true;
    let failures = 0;
    /** A term whose lead settled but whose release did not reach the database. */
    let unreleased: number | undefined;
    /** `lead`'s own failure: ends the campaign, and `run` rejects with it once the session is closed. */
    let failed: { error: unknown } | undefined;
    try {
      while (!signal.aborted && !failed) {
        let session: Session | undefined;
        try {
          session = await Session.open(this.#s, signal);
          await this.#lease.prepare(session, signal);
          failures = 0;
          if (unreleased !== undefined && (await this.#release(session, unreleased))) unreleased = undefined;
          while (!isAborted(signal) && !session.lost.aborted && !failed) {
            const won = await this.#campaign(session, signal);
            if (won === undefined) break;
            failed = await holdTerm(
              { settings: this.#s, lease: this.#lease, warn: (code, message) => this.#warn(code, message) },
              session,
              won,
              lead,
              signal,
            );
            if (!(await this.#release(session, won.token))) unreleased = won.token;
            this.#s.emit({ type: 'leader.lost', term: won.token });
          }
        } catch (error) {
          if (isAborted(signal)) break;
          failures++;
          const delay = backoffDelay(failures, { base: this.#s.retry, max: this.#s.maxRetry });
          this.#warnFailure(error, delay);
          await this.#s.clock.sleep(delay, signal).catch(() => undefined);
        } finally {
          await session?.close();
        }
      }
    } finally {
      this.#running = false;
    }
    if (failed) throw failed.error;
  }

  /**
   * Campaigns until this instance wins a term (resolves with it) or `signal` aborts (undefined).
   * Rejects when the session fails; the caller reconnects.
   */
  async #campaign(session: Session, signal: AbortSignal): Promise<Won | undefined> {
    const { clock, retry, sessionLock } = this.#s;
    const grace = this.#s.lease - this.#s.renewDeadline;
    let orphan: { token: number; since: number } | undefined;
    while (!signal.aborted) {
      const row = await this.#lease.read(session, signal);
      // Free, or our own finished term (we only campaign after our lead settled).
      if (row.free || row.holder === this.#lease.holder) {
        if (sessionLock && !session.holdsLock)
          await this.#lease.tryLock(session, this.#lease.queryTimeout, signal);
        const won = await this.#lease.takeover(session, signal);
        if (won) return won;
        continue;
      }
      if (!sessionLock || !row.holderLocked) {
        // Lease row only, or a leader that won while a stale session held the lock: wait for its
        // lease to be released or run out. Holding the lock meanwhile would keep that leader from
        // taking it, and with it the fast failover of its term, so let it go.
        if (session.holdsLock) await this.#lease.unlock(session, signal);
        await clock.sleep(Math.min(retry, Math.max(1, row.expiresInMs)), signal).catch(() => undefined);
        continue;
      }
      if (!session.holdsLock) {
        // The leader's session holds the lock; it is granted to us when that session ends.
        await this.#lease.waitForLock(session, signal);
        continue;
      }
      // We hold the lock the leader's session held, so that session has ended: the leader crashed,
      // or it lost its connection, knows it, and is stopping its leader components. Give it the
      // time a leader past its renew deadline would have, then take over that very term.
      if (orphan?.token !== row.token) orphan = { token: row.token, since: clock.now() };
      const wait = orphan.since + grace - clock.now();
      if (wait > 0) {
        await clock.sleep(wait, signal).catch(() => undefined);
        continue;
      }
      const won = await this.#lease.takeover(session, signal, row.token);
      if (won) return won;
    }
    return undefined;
  }

  /**
   * Gives the term back (a no-op if it was taken over), then the lock, so the follower waiting on
   * it wakes at once. Resolves false when the database could not be told.
   */
  async #release(session: Session, token: number): Promise<boolean> {
    if (session.lost.aborted) return false;
    try {
      await this.#lease.release(session, token);
      return true;
    } catch (error) {
      this.#warn(
        'LEADER_RELEASE_FAILED',
        `leader election \`${this.#s.name}\`: could not release term ${token} (${this.#s.redactor.describe(error)}); it will expire or be released after reconnecting`,
      );
      return false;
    }
  }

  #warnFailure(error: unknown, delay: number): void {
    const { name, target, redactor } = this.#s;
    const failures: Record<FailureKind, [code: string, what: string]> = {
      auth: ['LEADER_AUTH_FAILED', `the database at ${target} refused the credentials`],
      unavailable: ['LEADER_DB_UNAVAILABLE', `cannot use the database at ${target}`],
      query: ['LEADER_QUERY_FAILED', `a query on ${target} failed`],
    };
    const [code, what] = failures[classify(error)];
    const retrying = `retrying in ${formatMs(delay)}`;
    this.#warn(code, `leader election \`${name}\`: ${what} (${redactor.describe(error)}); ${retrying}`);
  }

  #warn(code: string, message: string): void {
    this.#s.emit({ type: 'warning', code, message: this.#s.redactor.text(message) });
  }
}
