import { randomUUID } from 'node:crypto';
import { backoffDelay } from '../runtime/backoff.js';
import { CorralError, formatMs } from '../runtime/errors.js';
import type { LeaderElector, Term } from './elector.js';
import { LeadershipLostError } from './errors.js';
import { settle, type ElectorSettings, type PostgresElectorOptions } from './postgres-options.js';
import { Session } from './postgres-session.js';
import {
  electionLockKey,
  statements,
  toLeaseRow,
  type LeaseRow,
  type RawLeaseRow,
  type Statements,
} from './postgres-sql.js';
import { classify } from './redact.js';

export type { PostgresElectorOptions } from './postgres-options.js';

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
  readonly #sql: Statements;
  /** This instance in the lease row: the identity plus a random suffix, unique per instance. */
  readonly #holder: string;
  readonly #lockKey: string;
  /** Bound for the queries of a campaign; renewals are bounded by the term's deadline instead. */
  readonly #queryTimeout: number;
  #running = false;

  /** Validates `options` at once; throws {@link LeaderConfigError} naming the option at fault. */
  constructor(options: PostgresElectorOptions) {
    this.#s = settle(options);
    this.#sql = statements(this.#s.table);
    this.#holder = `${this.#s.identity}#${randomUUID().slice(0, 8)}`;
    this.#lockKey = electionLockKey(this.#s.table, this.#s.name);
    this.#queryTimeout = Math.max(this.#s.renewDeadline, 2 * this.#s.retry);
  }

  /** The connection string with its password replaced by `***`: safe for logs and metric labels. */
  get target(): string {
    return this.#s.redactor.target;
  }

  /** The election's name. */
  get name(): string {
    return this.#s.name;
  }

  /** How this instance appears as `holder` in the lease row. */
  get holder(): string {
    return this.#holder;
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
          await this.#prepare(session, signal);
          failures = 0;
          if (unreleased !== undefined && (await this.#release(session, unreleased))) unreleased = undefined;
          while (!isAborted(signal) && !session.lost.aborted && !failed) {
            const won = await this.#campaign(session, signal);
            if (won === undefined) break;
            failed = await this.#hold(session, won, lead, signal);
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

  /** Creates the table if missing, the election's row, and the session's lock timeout. */
  async #prepare(session: Session, signal: AbortSignal): Promise<void> {
    const limits = { timeout: this.#queryTimeout, signal };
    const [found] = await session.query<{ present: boolean }>(this.#sql.exists, [this.#s.table], limits);
    // Checked first: CREATE … IF NOT EXISTS needs the CREATE privilege even when the table exists.
    if (!found?.present) await session.query(this.#sql.create, [], limits);
    await session.query(this.#sql.ensureRow, [this.#s.name], limits);
    // Waiting on the lock wakes up every `retry` to see whether the lease ran out meanwhile.
    if (this.#s.sessionLock) await session.query(this.#sql.setLockTimeout, [`${this.#s.retry}ms`], limits);
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
      const lease = await this.#read(session, signal);
      // Free, or our own finished term (we only campaign after our lead settled).
      if (lease.free || lease.holder === this.#holder) {
        if (sessionLock && !session.holdsLock) await this.#tryLock(session, this.#queryTimeout, signal);
        const won = await this.#takeover(session, signal, -1);
        if (won) return won;
        continue;
      }
      if (!sessionLock || !lease.holderLocked) {
        // Lease row only, or a leader that won while a stale session held the lock: wait for its
        // lease to be released or run out. Holding the lock meanwhile would keep that leader from
        // taking it, and with it the fast failover of its term, so let it go.
        if (session.holdsLock) await this.#unlock(session, signal);
        await clock.sleep(Math.min(retry, Math.max(1, lease.expiresInMs)), signal).catch(() => undefined);
        continue;
      }
      if (!session.holdsLock) {
        // The leader's session holds the lock; it is granted to us when that session ends.
        await this.#waitForLock(session, signal);
        continue;
      }
      // We hold the lock the leader's session held, so that session has ended: the leader crashed,
      // or it lost its connection, knows it, and is stopping its leader components. Give it the
      // time a leader past its renew deadline would have, then take over that very term.
      if (orphan?.token !== lease.token) orphan = { token: lease.token, since: clock.now() };
      const wait = orphan.since + grace - clock.now();
      if (wait > 0) {
        await clock.sleep(wait, signal).catch(() => undefined);
        continue;
      }
      const won = await this.#takeover(session, signal, lease.token);
      if (won) return won;
    }
    return undefined;
  }

  /**
   * Holds a won term: calls `lead`, renews until it settled, and aborts the term signal when the
   * run stops (renewals go on until `lead` settled), when the session is lost, when a renewal finds
   * the lease taken, or at the deadline. Resolves with `lead`'s failure, if any.
   */
  async #hold(
    session: Session,
    won: Won,
    lead: (term: Term) => Promise<void>,
    signal: AbortSignal,
  ): Promise<{ error: unknown } | undefined> {
    const { clock, renewDeadline, renewInterval, name } = this.#s;
    const term = new AbortController();
    /** Aborted when renewing is over: lead settled, or the term cannot be kept. */
    const renewal = new AbortController();
    let lastSent = won.sentAt;
    const lose = (error: LeadershipLostError): void => {
      if (renewal.signal.aborted) return;
      renewal.abort();
      this.#warn(error.code, error.message);
      if (!term.signal.aborted) term.abort(error);
    };
    const pastDeadline = (): boolean => {
      const now = clock.now();
      if (now < lastSent + renewDeadline) return false;
      lose(
        new LeadershipLostError(
          'LEADER_DEADLINE_PASSED',
          name,
          won.token,
          `leader election \`${name}\`: term ${won.token} was not renewed within ${formatMs(renewDeadline)} (last renewal sent ${formatMs(now - lastSent)} ago); stepping down`,
        ),
      );
      return true;
    };
    const onLost = (): void =>
      lose(
        new LeadershipLostError(
          'LEADER_SESSION_LOST',
          name,
          won.token,
          `leader election \`${name}\`: lost the database session during term ${won.token} (${this.#s.redactor.describe(session.lost.reason)}); stepping down`,
        ),
      );
    const onStop = (): void => {
      // A requested stop ends the term but not the renewals: the lease is kept until lead settled.
      if (!term.signal.aborted) term.abort(signal.reason);
    };
    session.lost.addEventListener('abort', onLost, { once: true, signal: renewal.signal });
    signal.addEventListener('abort', onStop, { once: true, signal: renewal.signal });
    if (session.lost.aborted) onLost();
    if (signal.aborted) onStop();

    // The deadline, on our own monotonic clock; re-read after every wake since renewals move it.
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
          if (this.#s.sessionLock && !session.holdsLock) await this.#tryLock(session, timeout);
          const renewed = await session.query(
            this.#sql.renew,
            [name, this.#holder, session.holdsLock, this.#s.lease, won.token],
            { timeout },
          );
          // The deadline may have passed while the renewal was in flight; a late success changes nothing.
          if (isAborted(renewal.signal)) return;
          if (renewed.length === 0) {
            lose(
              new LeadershipLostError(
                'LEADER_LEASE_LOST',
                name,
                won.token,
                `leader election \`${name}\`: term ${won.token} was taken over before its deadline (check that renewDeadline < lease and that the database clock did not jump); stepping down`,
              ),
            );
            return;
          }
          lastSent = Math.max(lastSent, sentAt);
        } catch (error) {
          // A lost session is handled by onLost; anything else is retried until the deadline.
          if (session.lost.aborted || isAborted(renewal.signal)) return;
          this.#warn(
            'LEADER_RENEW_FAILED',
            `leader election \`${name}\`: renewing term ${won.token} failed (${this.#s.redactor.describe(error)}); retrying until the deadline`,
          );
        }
      }
    })();

    this.#s.emit({ type: 'leader.elected', term: won.token });
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

  async #read(session: Session, signal: AbortSignal): Promise<LeaseRow> {
    const limits = { timeout: this.#queryTimeout, signal };
    let [raw] = await session.query<RawLeaseRow>(this.#sql.read, [this.#s.name], limits);
    if (!raw) {
      // Someone deleted the row; recreate it (tokens restart: the table says never to do that).
      await session.query(this.#sql.ensureRow, [this.#s.name], limits);
      [raw] = await session.query<RawLeaseRow>(this.#sql.read, [this.#s.name], limits);
    }
    if (!raw)
      throw new CorralError('LEADER_ROW_MISSING', `leader election \`${this.#s.name}\`: its row vanished`);
    return toLeaseRow(raw);
  }

  /** Starts a term if the lease is free, ours, or still the orphaned term `orphanToken`. */
  async #takeover(session: Session, signal: AbortSignal, orphanToken: number): Promise<Won | undefined> {
    const sentAt = this.#s.clock.now();
    const [row] = await session.query<{ token: string }>(
      this.#sql.takeover,
      [this.#s.name, this.#holder, session.holdsLock, this.#s.lease, orphanToken],
      { timeout: this.#queryTimeout, signal },
    );
    return row ? { token: Number(row.token), sentAt } : undefined;
  }

  /**
   * Gives the term back (a no-op if it was taken over), then the lock, so the follower waiting on
   * it wakes at once. Resolves false when the database could not be told.
   */
  async #release(session: Session, token: number): Promise<boolean> {
    if (session.lost.aborted) return false;
    try {
      await session.query(this.#sql.release, [this.#s.name, this.#holder, token], {
        timeout: this.#queryTimeout,
      });
      if (session.holdsLock) await this.#unlock(session);
      return true;
    } catch (error) {
      this.#warn(
        'LEADER_RELEASE_FAILED',
        `leader election \`${this.#s.name}\`: could not release term ${token} (${this.#s.redactor.describe(error)}); it will expire or be released after reconnecting`,
      );
      return false;
    }
  }

  async #tryLock(session: Session, timeout: number, signal?: AbortSignal): Promise<void> {
    const [row] = await session.query<{ locked: boolean }>(this.#sql.tryLock, [this.#lockKey], {
      timeout,
      ...(signal && { signal }),
    });
    session.holdsLock = row?.locked === true;
  }

  /** Waits for the lock, at most `retry` (the session's lock_timeout). */
  async #waitForLock(session: Session, signal: AbortSignal): Promise<void> {
    try {
      await session.query(this.#sql.lock, [this.#lockKey], {
        timeout: this.#s.retry + this.#queryTimeout,
        signal,
      });
      session.holdsLock = true;
    } catch (error) {
      if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE || session.lost.aborted) throw error;
    }
  }

  async #unlock(session: Session, signal?: AbortSignal): Promise<void> {
    await session.query(this.#sql.unlockAll, [], { timeout: this.#queryTimeout, ...(signal && { signal }) });
    session.holdsLock = false;
  }

  #warnFailure(error: unknown, delay: number): void {
    const { name, redactor } = this.#s;
    const reason = redactor.describe(error);
    const retrying = `retrying in ${formatMs(delay)}`;
    switch (classify(error)) {
      case 'auth':
        this.#warn(
          'LEADER_AUTH_FAILED',
          `leader election \`${name}\`: the database at ${redactor.target} refused the credentials (${reason}); ${retrying}`,
        );
        break;
      case 'unavailable':
        this.#warn(
          'LEADER_DB_UNAVAILABLE',
          `leader election \`${name}\`: cannot use the database at ${redactor.target} (${reason}); ${retrying}`,
        );
        break;
      case 'query':
        this.#warn(
          'LEADER_QUERY_FAILED',
          `leader election \`${name}\`: a query on ${redactor.target} failed (${reason}); ${retrying}`,
        );
        break;
    }
  }

  #warn(code: string, message: string): void {
    this.#s.emit({ type: 'warning', code, message: this.#s.redactor.scrub(message) });
  }
}

/** A won term: its token, and when the winning statement was sent (our clock) to start the deadline. */
interface Won {
  readonly token: number;
  readonly sentAt: number;
}

/**
 * Reads `signal.aborted` afresh. TypeScript narrows a checked property and does not see it change
 * across an `await`; this keeps those checks honest.
 */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** SQLSTATE lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';
