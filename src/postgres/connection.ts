import { Redactor, redactUrl } from '../util/redact.js';

/**
 * Keeping the connection string's password out of every event, error and metric label. The elector
 * never shows the connection string itself, only `target` (redacted, see `redactUrl`), and passes
 * every foreign message (a driver error, a server error) through `redactor` before it leaves.
 * `url` must already be known to parse (see `validateOptions`).
 */
export function connectionRedaction(url: URL, raw: string): { target: string; redactor: Redactor } {
  const target = redactUrl(url.href);
  const redactor = new Redactor({
    strings: [
      [raw, target],
      [url.href, target],
    ],
    // A password can also travel as a query parameter (`?password=…`), which pg honours.
    values: [url.password, url.searchParams.get('password') ?? ''],
    // A very short password may also blank out innocent words; a garbled message is the price of
    // never leaking.
    minSearchLength: 1,
  });
  return { target, redactor };
}

/** What went wrong talking to the database, as far as the elector's retry policy cares. */
export type FailureKind = 'auth' | 'unavailable' | 'query';

/**
 * Classifies a driver or server error. `auth`: the server refused the credentials (SQLSTATE class
 * 28) or the client could not even answer the password challenge. `unavailable`: the server cannot
 * be reached, is starting or stopping, or the connection broke. Anything else is `query`.
 */
export function classify(error: unknown): FailureKind {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const message = error instanceof Error ? error.message : '';
  if (typeof code === 'string') {
    if (code.startsWith('28')) return 'auth';
    // 57P01-03: terminated by an administrator, crash shutdown, cannot connect now; 08: connection exception.
    if (/^(57P0[1-3]|08)/.test(code)) return 'unavailable';
    if (/^E[A-Z]+$/.test(code)) return 'unavailable'; // ECONNREFUSED, ETIMEDOUT, ENOTFOUND, EPIPE …
  }
  if (message.startsWith('SASL:') || /password must be a string/.test(message)) return 'auth';
  if (/Connection terminated|timeout|timed out|ended|not queryable/i.test(message)) return 'unavailable';
  return 'query';
}
