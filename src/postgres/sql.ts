import { createHash } from 'node:crypto';

/**
 * The SQL of the PostgreSQL elector: one row per election in one table. Every statement is a
 * single-statement transaction (works behind a transaction-pooling pgbouncer); only the advisory
 * lock statements need a real session.
 *
 * Expiry is always computed with the database's clock (`now()`), never a replica's, so clock skew
 * between replicas does not matter. `now()` is the start of the statement's transaction: when a
 * leader renews, that is no earlier than the moment it sent the renewal, so the lease never ends
 * before `sentAt + lease` in real time; when a follower checks expiry, it judges by a moment no
 * later than the check itself, which errs on the side of "not expired yet".
 */
export interface LeaseRow {
  /** The fencing token of the latest term; it only ever grows. */
  readonly token: number;
  /** Who holds the lease (elector instance id); `null` when released. */
  readonly holder: string | null;
  /** The holder's session held the election's advisory lock when it last won or renewed. */
  readonly holderLocked: boolean;
  /** Released or expired: anyone may take it. */
  readonly free: boolean;
  /** ms until it expires by the database's clock, 0 when it has. */
  readonly expiresInMs: number;
}

/** The statements for one (quoted) table. */
export function statements(table: string) {
  return {
    exists: `SELECT to_regclass($1::text) IS NOT NULL AS present`,
    /**
     * Without parameters this is sent as one simple query, hence one transaction; the transaction
     * lock keeps concurrent replicas from racing on `CREATE TABLE IF NOT EXISTS` (which can fail
     * with a duplicate-key error on the catalog when two run at once).
     */
    create: `BEGIN;
SELECT pg_advisory_xact_lock(${schemaLockKey(table)});
CREATE TABLE IF NOT EXISTS ${table} (
  name text PRIMARY KEY,
  token bigint NOT NULL,
  holder text,
  holder_locked boolean NOT NULL DEFAULT false,
  acquired_at timestamptz,
  renewed_at timestamptz,
  expires_at timestamptz NOT NULL
);
COMMENT ON TABLE ${table} IS 'Corral leader election leases, one row per election. token is the fencing token: it only grows, so never delete a row.';
COMMIT;`,
    /** The row starts released, at token 0; the first term gets token 1. */
    ensureRow: `INSERT INTO ${table} (name, token, expires_at) VALUES ($1, 0, now()) ON CONFLICT (name) DO NOTHING`,
    /** A {@link RawLeaseRow}: the columns named as LeaseRow's fields. */
    read: `SELECT token::text AS token, holder, holder_locked AS "holderLocked",
  (holder IS NULL OR expires_at <= now()) AS free,
  greatest(0, extract(epoch FROM expires_at - now()) * 1000)::float8 AS "expiresInMs"
FROM ${table} WHERE name = $1`,
    /**
     * Starts a new term with the next token, if the lease is free, is our own finished term, or is
     * still exactly the term `$5` whose holder's session we know has ended. The row lock makes
     * concurrent takeovers queue; the loser re-checks the winner's row and matches nothing.
     */
    takeover: `UPDATE ${table}
SET token = token + 1, holder = $2, holder_locked = $3, acquired_at = now(), renewed_at = now(),
  expires_at = now() + $4::float8 * interval '1 millisecond'
WHERE name = $1 AND (holder IS NULL OR expires_at <= now() OR holder = $2 OR token = $5::bigint)
RETURNING token::text AS token`,
    /** Extends our own term; no row means someone else took over. */
    renew: `UPDATE ${table}
SET renewed_at = now(), expires_at = now() + $4::float8 * interval '1 millisecond', holder_locked = $3
WHERE name = $1 AND token = $5::bigint AND holder = $2
RETURNING 1 AS renewed`,
    /** Gives our term back; a no-op when it has been taken over already. */
    release: `UPDATE ${table} SET holder = NULL, holder_locked = false, expires_at = now()
WHERE name = $1 AND token = $3::bigint AND holder = $2`,
    setLockTimeout: `SELECT set_config('lock_timeout', $1::text, false)`,
    /** Blocks until granted or `lock_timeout` (SQLSTATE 55P03). */
    lock: `SELECT pg_advisory_lock($1::bigint)`,
    tryLock: `SELECT pg_try_advisory_lock($1::bigint) AS locked`,
    unlockAll: `SELECT pg_advisory_unlock_all()`,
  };
}

export type Statements = ReturnType<typeof statements>;

/** The row of `read` as the driver returns it: the token is a bigint, sent as text. */
export type RawLeaseRow = Omit<LeaseRow, 'token'> & { readonly token: string };

/**
 * The advisory lock key of an election: 64 bits of a hash of table and name. A collision with
 * another election would only make their followers queue on the same lock; it cannot let anyone
 * win early, because a takeover is decided by the lease row.
 */
export function electionLockKey(table: string, name: string): string {
  return lockKey(`corral-leader\0${table}\0${name}`);
}

function schemaLockKey(table: string): string {
  return lockKey(`corral-leader-schema\0${table}`);
}

function lockKey(text: string): string {
  return createHash('sha256').update(text).digest().readBigInt64BE(0).toString();
}
