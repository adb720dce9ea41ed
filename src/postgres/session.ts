import { Socket } from 'node:net';
import pg from 'pg';
import { formatMs } from '../core/errors.js';
import { raceAbort } from '../util/abort.js';
import { SessionLostError } from './errors.js';
import type { ElectorSettings } from './options.js';

/** How long {@link Session.close} waits for a polite goodbye before cutting the socket. */
const CLOSE_GRACE_MS = 1_000;

/** Limits of one query: it is abandoned, and the session with it, when either runs out. */
export interface QueryLimits {
  /** ms; when it runs out the session is destroyed (the connection may be hung, e.g. cut off). */
  readonly timeout: number;
  /** Aborting destroys the session too: a pg query cannot be abandoned while its connection lives. */
  readonly signal?: AbortSignal;
}

/**
 * One dedicated database connection, the unit the advisory lock lives in. `lost` aborts, once,
 * when the connection ends for any reason (server terminated it, network error, a query overran
 * and the session was destroyed, `close()`). A lost session is never reused.
 *
 * Why our own socket: `client.end()` waits for the server to close the connection, which on a
 * cut-off network never happens; holding the socket lets us destroy it and be sure nothing of the
 * session keeps the process alive.
 */
export class Session {
  readonly #client: pg.Client;
  readonly #settings: ElectorSettings;
  readonly #lost = new AbortController();
  #socket: Socket | undefined;
  /** True while this session holds the election's advisory lock (released by the server when it ends). */
  holdsLock = false;

  private constructor(settings: ElectorSettings) {
    this.#settings = settings;
    this.#client = new pg.Client({
      ...settings.client,
      connectionString: settings.url,
      application_name: `corral-leader ${settings.name}`.slice(0, 63),
      keepAlive: true,
      connectionTimeoutMillis: Math.max(2_000, settings.retry * 2),
      stream: () => (this.#socket = new Socket()),
    });
    // An idle connection that breaks reports through 'error'; without a listener Node would crash.
    this.#client.on('error', (error) => this.#lose(error));
    this.#client.on('end', () => this.#lose(new Error('connection ended')));
  }

  /** Connects; rejects with the driver's error (classified by the caller) and leaves nothing open. */
  static async open(settings: ElectorSettings, signal: AbortSignal): Promise<Session> {
    const session = new Session(settings);
    const onAbort = (): void => session.#destroy(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) throw signal.reason;
      await session.#client.connect();
      if (session.#lost.signal.aborted) throw session.#lost.signal.reason;
      return session;
    } catch (error) {
      session.#destroy(error);
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Aborts when the session has ended; its reason says why. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Runs one statement (or, without params, a multi-statement script) and returns its rows. */
  async query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
    limits: QueryLimits,
  ): Promise<R[]> {
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason;
    const { clock } = this.#settings;
    const done = new AbortController();
    const abandon = (reason: unknown): void => this.#destroy(reason);
    const onAbort = (): void => abandon(limits.signal?.reason);
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    if (limits.signal?.aborted) onAbort();
    const timeout = Math.max(1, limits.timeout);
    clock.sleep(timeout, done.signal).then(
      () => abandon(new SessionLostError(`a query did not finish within ${formatMs(timeout)}`)),
      () => undefined,
    );
    try {
      const query = this.#client.query<R>(sql, params.length > 0 ? params : undefined);
      // The driver rejects pending queries when the connection dies, but not when we gave up on it.
      return (await raceAbort(query, this.#lost.signal)).rows;
    } finally {
      done.abort();
      limits.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Ends the session: a Terminate message, so the server releases the lock at once, then the
   * socket is cut after a short grace. Idempotent; never rejects.
   */
  async close(): Promise<void> {
    if (this.#lost.signal.aborted) {
      this.#socket?.destroy();
      return;
    }
    this.#lose(new SessionLostError('session closed'));
    const grace = new AbortController();
    await Promise.race([
      this.#client.end().catch(() => undefined),
      this.#settings.clock.sleep(CLOSE_GRACE_MS, grace.signal).catch(() => undefined),
    ]);
    grace.abort();
    this.#socket?.destroy();
  }

  #lose(reason: unknown): void {
    if (this.#lost.signal.aborted) return;
    this.holdsLock = false;
    this.#lost.abort(reason instanceof Error ? reason : new SessionLostError(String(reason)));
  }

  #destroy(reason: unknown): void {
    this.#lose(reason);
    this.#socket?.destroy();
  }
}
