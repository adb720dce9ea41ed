import { hostname } from 'node:os';
import type { ClientConfig } from 'pg';
import { systemClock, type Clock } from '../core/clock.js';
import type { CoreEvent } from '../core/events.js';
import { notify } from '../util/notify.js';
import type { Redactor } from '../util/redact.js';
import { LeaderConfigError } from './errors.js';
import { connectionRedaction } from './connection.js';

/** Options of {@link PostgresElector}. Durations are milliseconds. */
export interface PostgresElectorOptions {
  /** `postgres://user:password@host:port/database`. Its password never appears in events or errors. */
  url: string;
  /** The election. Replicas with the same name (and table) compete; other names are independent. */
  name: string;
  /**
   * How long a lease lasts in the database (by the database's clock) after each renewal. A
   * replica whose session is still open but that stopped renewing (stalled, cut off) is replaced
   * after this long. @default 5_000
   */
  lease?: number;
  /**
   * The leader gives up its term when it has not renewed within this long since it sent its last
   * successful renewal. `lease - renewDeadline` is the time leader components have to stop before
   * anyone else can win; it is also how long a follower waits after the leader's session vanished.
   * @default lease - 500 (at least 3/4 of lease)
   */
  renewDeadline?: number;
  /** Time between renewals. @default min(1_000, renewDeadline / 3) */
  renewInterval?: number;
  /**
   * How often a follower re-checks a lease it cannot wait on, and the first reconnect delay
   * (doubling up to `maxRetry`). @default 1_000
   */
  retry?: number;
  /** The longest reconnect delay. @default 10_000 */
  maxRetry?: number;
  /**
   * Hold a session-level advisory lock while leading or next in line: followers wake the moment
   * the leader's session ends, which gives sub-second failover after a crash and an instant clean
   * handoff. `false` uses the lease row alone, in single-statement transactions with no session
   * state, which works behind a transaction-pooling pgbouncer; failover then takes up to `lease`.
   * @default true
   */
  sessionLock?: boolean;
  /** The lease table, `name` or `schema.name`; created if missing. @default 'corral_leader' */
  table?: string;
  /** Who this replica is, shown in the lease row's `holder`. @default `<hostname>:<pid>` */
  identity?: string;
  /** @default systemClock */
  clock?: Clock;
  /** Receives `leader.elected`, `leader.lost` and `warning` events. Must not throw. */
  onEvent?: (event: CoreEvent) => void;
  /** More driver settings (TLS, a password function for rotated secrets). */
  client?: Omit<ClientConfig, 'connectionString' | 'stream'>;
}

/** The options, validated and with every default filled in; `table` is quoted, ready to paste into SQL. */
export type ElectorSettings = Readonly<Required<Omit<PostgresElectorOptions, 'onEvent'>>> & {
  readonly emit: (event: CoreEvent) => void;
  /** The connection string as shown: redacted, safe for logs and metric labels. */
  readonly target: string;
  /** Hides the connection string and its password in every message that leaves the elector. */
  readonly redactor: Redactor;
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Validates the options eagerly, naming the option at fault, and returns them with defaults applied.
 * Never puts the connection string in a message.
 */
export function validateOptions(options: PostgresElectorOptions): ElectorSettings {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    // Not shown: an unparseable string cannot be redacted reliably.
    throw new LeaderConfigError(
      'url',
      'expected a postgres:// URL (the value is not shown: it may hold a password)',
    );
  }
  const { target, redactor } = connectionRedaction(url, options.url);
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new LeaderConfigError('url', `expected a postgres:// URL, got ${target}`);
  }
  if (typeof options.name !== 'string' || options.name === '' || options.name.length > 200) {
    throw new LeaderConfigError('name', 'expected a non-empty election name of at most 200 characters');
  }
  const lease = options.lease ?? 5_000;
  const renewDeadline = options.renewDeadline ?? Math.max(lease - 500, Math.round(lease * 0.75));
  const renewInterval = options.renewInterval ?? Math.min(1_000, Math.round(renewDeadline / 3));
  const retry = options.retry ?? 1_000;
  const maxRetry = options.maxRetry ?? Math.max(10_000, retry);
  for (const [option, value] of Object.entries({ lease, renewDeadline, renewInterval, retry, maxRetry })) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new LeaderConfigError(option, `expected a positive number of milliseconds, got ${String(value)}`);
    }
  }
  // Why the order matters: the leader must get several renewal attempts before its deadline, and
  // must give up before its lease can run out in the database, leaving its components time to stop.
  if (renewDeadline >= lease) {
    throw new LeaderConfigError(
      'renewDeadline',
      `must be shorter than lease (${lease}ms), got ${renewDeadline}ms`,
    );
  }
  if (renewInterval >= renewDeadline) {
    throw new LeaderConfigError(
      'renewInterval',
      `must be shorter than renewDeadline (${renewDeadline}ms), got ${renewInterval}ms`,
    );
  }
  if (maxRetry < retry) {
    throw new LeaderConfigError('maxRetry', `must be at least retry (${retry}ms), got ${maxRetry}ms`);
  }
  const table = options.table ?? 'corral_leader';
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new LeaderConfigError(
      'table',
      `expected \`name\` or \`schema.name\` (letters, digits, _), got \`${table}\``,
    );
  }
  const onEvent = options.onEvent;
  return {
    url: options.url,
    name: options.name,
    lease,
    renewDeadline,
    renewInterval,
    retry,
    maxRetry,
    sessionLock: options.sessionLock ?? true,
    table: parts.map((part) => `"${part}"`).join('.'),
    identity: options.identity ?? `${hostname()}:${process.pid}`,
    clock: options.clock ?? systemClock,
    emit: (event) => notify(onEvent, event),
    client: options.client ?? {},
    target,
    redactor,
  };
}
