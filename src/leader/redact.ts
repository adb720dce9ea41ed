/**
 * Keeping the connection string's password out of every event, error and metric label. The elector
 * never shows the connection string itself, only {@link Redactor.target}, and passes every foreign
 * message (a driver error, a server error) through {@link Redactor.scrub} before it leaves.
 */
export class Redactor {
  /** The connection string with its password replaced by `***`: safe for logs and metric labels. */
  readonly target: string;
  readonly #secrets: string[];

  /** `url` must already be known to parse (see `parsePostgresUrl`). */
  constructor(url: URL, raw: string) {
    const shown = new URL(url.href);
    if (shown.password) shown.password = '***';
    // A password can also travel as a query parameter (`?password=…`), which pg honours.
    if (shown.searchParams.has('password')) shown.searchParams.set('password', '***');
    this.target = shown.href;
    const passwords = [url.password, url.searchParams.get('password') ?? ''].filter((p) => p !== '');
    this.#secrets = [
      raw,
      url.href,
      ...passwords.flatMap((p) => [p, safeDecode(p), encodeURIComponent(safeDecode(p))]),
    ]
      .filter((s) => s !== '')
      // Longest first, so the whole URL is replaced before the password inside it.
      .sort((a, b) => b.length - a.length);
  }

  /**
   * Replaces every occurrence of the connection string or its password in `text`. A very short
   * password may also blank out innocent words; a garbled message is the price of never leaking.
   */
  scrub(text: string): string {
    let result = text;
    for (const secret of this.#secrets) {
      result = result.split(secret).join(secret.includes('://') ? this.target : '***');
    }
    return result;
  }

  /** A thrown value as a one-line message, scrubbed. */
  describe(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return this.scrub(message.replace(/\s+/g, ' ').trim());
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
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
