import { CorralError } from '../core/errors.js';
import type { ElectorSettings } from './options.js';
import type { Session } from './session.js';
import { electionLockKey, statements, type LeaseRow, type RawLeaseRow, type Statements } from './sql.js';

/** A won term: its token, and when the winning statement was sent (our clock), which starts the deadline. */
export interface Won {
  readonly token: number;
  readonly sentAt: number;
}

/** SQLSTATE lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * The database operations of one election, on whatever session the caller holds: the lease row
 * and the advisory lock. Mechanism only; when to call what is the elector's policy. Every method
 * rejects when the session fails (a lost session is never reused).
 */
export class Lease {
  readonly #s: ElectorSettings;
  readonly #sql: Statements;
  readonly #lockKey: string;
  /** This elector instance in the row's `holder` column. */
  readonly holder: string;
  /** Bound for campaign queries; renewals are bounded by the term's deadline instead. */
  readonly queryTimeout: number;

  constructor(settings: ElectorSettings, holder: string) {
    this.#s = settings;
    this.#sql = statements(settings.table);
    this.#lockKey = electionLockKey(settings.table, settings.name);
    this.holder = holder;
    this.queryTimeout = Math.max(settings.renewDeadline, 2 * settings.retry);
  }

  /** Creates the table if missing, the election's row, and the session's lock timeout. */
  async prepare(session: Session, signal: AbortSignal): Promise<void> {
    const limits = { timeout: this.queryTimeout, signal };
    const [found] = await session.query<{ present: boolean }>(this.#sql.exists, [this.#s.table], limits);
    // Checked first: CREATE … IF NOT EXISTS needs the CREATE privilege even when the table exists.
    if (!found?.present) await session.query(this.#sql.create, [], limits);
    await session.query(this.#sql.ensureRow, [this.#s.name], limits);
    // A wait on the lock wakes up every `retry` to see whether the lease ran out meanwhile.
    if (this.#s.sessionLock) {
      await session.query(this.#sql.setLockTimeout, [`${this.#s.retry}ms`], limits);
    }
  }

  async read(session: Session, signal: AbortSignal): Promise<LeaseRow> {
    const limits = { timeout: this.queryTimeout, signal };
    let [raw] = await session.query<RawLeaseRow>(this.#sql.read, [this.#s.name], limits);
    if (!raw) {
      // Someone deleted the row; recreate it (tokens restart: the table's comment says never to).
      await session.query(this.#sql.ensureRow, [this.#s.name], limits);
      [raw] = await session.query<RawLeaseRow>(this.#sql.read, [this.#s.name], limits);
    }
    if (!raw)
      throw new CorralError('LEADER_ROW_MISSING', `leader election \`${this.#s.name}\`: its row vanished`);
    return { ...raw, token: Number(raw.token) };
  }

  /** Starts a term if the lease is free, our own finished term, or still the orphaned term `orphanToken`. */
  async takeover(session: Session, signal: AbortSignal, orphanToken = -1): Promise<Won | undefined> {
    const sentAt = this.#s.clock.now();
    const [row] = await session.query<{ token: string }>(
      this.#sql.takeover,
      [this.#s.name, this.holder, session.holdsLock, this.#s.lease, orphanToken],
      { timeout: this.queryTimeout, signal },
    );
    return row ? { token: Number(row.token), sentAt } : undefined;
  }

  /** Extends term `token`; false when someone else took it over. */
  async renew(session: Session, token: number, timeout: number): Promise<boolean> {
    const rows = await session.query(
      this.#sql.renew,
      [this.#s.name, this.holder, session.holdsLock, this.#s.lease, token],
      { timeout },
    );
    return rows.length > 0;
  }

  /** Gives term `token` back (a no-op if it was taken over), then the lock, so a waiting follower wakes at once. */
  async release(session: Session, token: number): Promise<void> {
    await session.query(this.#sql.release, [this.#s.name, this.holder, token], {
      timeout: this.queryTimeout,
    });
    if (session.holdsLock) await this.unlock(session);
  }

  async tryLock(session: Session, timeout: number, signal?: AbortSignal): Promise<void> {
    const [row] = await session.query<{ locked: boolean }>(this.#sql.tryLock, [this.#lockKey], {
      timeout,
      ...(signal && { signal }),
    });
    session.holdsLock = row?.locked === true;
  }

  /** Waits for the lock, at most `retry` (the session's lock_timeout); `holdsLock` tells the outcome. */
  async waitForLock(session: Session, signal: AbortSignal): Promise<void> {
    try {
      await session.query(this.#sql.lock, [this.#lockKey], {
        timeout: this.#s.retry + this.queryTimeout,
        signal,
      });
      session.holdsLock = true;
    } catch (error) {
      if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE || session.lost.aborted) throw error;
    }
  }

  async unlock(session: Session, signal?: AbortSignal): Promise<void> {
    await session.query(this.#sql.unlockAll, [], { timeout: this.queryTimeout, ...(signal && { signal }) });
    session.holdsLock = false;
  }
}
