import { formatHostPort, parseHostPort, type HostPort, type HostPortOptions } from '../../util/address.js';
import { httpRequest } from '../../util/http.js';
import { CorralError } from '../../core/errors.js';

/** Where Envoy's admin API listens: a TCP address, or a unix socket (`unix:/path/admin.sock`). */
export type AdminAddress = HostPort | { readonly socketPath: string };

/**
 * The admin API did not answer (`ENVOY_ADMIN_UNREACHABLE`: refused, timed out, reset), or answered
 * with an unexpected status or body (`ENVOY_ADMIN_ERROR`, with `status`).
 */
export class EnvoyAdminError extends CorralError<'ENVOY_ADMIN_UNREACHABLE' | 'ENVOY_ADMIN_ERROR'> {
  readonly status: number | undefined;

  constructor(code: EnvoyAdminError['code'], message: string, status?: number) {
    super(code, message);
    this.status = status;
  }
}

/** The admin address is not `host:port`, `[ipv6]:port` or `unix:/path`. */
export class AdminAddressError extends CorralError<'INVALID_ADMIN_ADDRESS'> {
  /** What is wrong with it, without the text itself: `no port (expected host:port)`. */
  readonly problem: string;

  constructor(text: string, problem: string) {
    super('INVALID_ADMIN_ADDRESS', `invalid Envoy admin address "${text}": ${problem}`);
    this.problem = problem;
  }
}

/**
 * Parses `127.0.0.1:9901`, `localhost:9901`, `[::1]:9901` or `unix:/run/envoy/admin.sock` (the
 * TCP forms as util/address.ts parses them, with `options`). Throws {@link AdminAddressError}.
 */
export function parseAdminAddress(text: string, options: HostPortOptions = {}): AdminAddress {
  if (text.startsWith('unix:')) {
    const socketPath = text.slice('unix:'.length);
    if (socketPath === '') throw new AdminAddressError(text, 'no socket path after `unix:`');
    return { socketPath };
  }
  const address = parseHostPort(text, options);
  if ('problem' in address) throw new AdminAddressError(text, address.problem);
  return address;
}

/** The address as users write it, for messages. */
export function formatAdminAddress(address: AdminAddress): string {
  return 'socketPath' in address ? `unix:${address.socketPath}` : formatHostPort(address);
}

/** `/ready`'s answer: `live` is true on 200 (state `LIVE`); otherwise the state Envoy named. */
export interface EnvoyReadiness {
  readonly live: boolean;
  readonly state: string;
}

/** The stats that count downstream connections, as a `/stats?filter=` regular expression. */
const CONNECTION_STATS = String.raw`^(server\.total_connections|listener\..*\.downstream_cx_active)$`;

/**
 * A client for the parts of Envoy's admin API that Corral uses. Each call uses a fresh connection
 * and is bounded by `requestTimeout` and by the caller's `signal`. Safe to use concurrently.
 */
export class EnvoyAdmin {
  readonly address: AdminAddress;
  readonly #requestTimeout: number;

  /** @param requestTimeout milliseconds per call. @default 2000 */
  constructor(address: string | AdminAddress, options: { readonly requestTimeout?: number } = {}) {
    this.address = typeof address === 'string' ? parseAdminAddress(address) : address;
    this.#requestTimeout = options.requestTimeout ?? 2000;
  }

  /** GET /ready. Resolves for any answer (503 while initializing or after /healthcheck/fail). */
  async ready(signal?: AbortSignal): Promise<EnvoyReadiness> {
    const { status, body } = await this.#call('GET', '/ready', signal);
    return { live: status === 200, state: body.trim() || String(status) };
  }

  /** POST /healthcheck/fail: health checks fail from now on, which starts Envoy's drain. */
  async failHealthchecks(signal?: AbortSignal): Promise<void> {
    await this.#post('/healthcheck/fail', signal);
  }

  /**
   * POST /drain_listeners with `query` sent exactly as given (`graceful&inboundonly`,
   * `inboundonly&graceful&skip_exit`): flags without values, in the order kuma-dp uses.
   */
  async drainListeners(query: string, signal?: AbortSignal): Promise<void> {
    await this.#post(`/drain_listeners?${query}`, signal);
  }

  /** GET /stats (text format), optionally filtered by a regular expression, as name → value. */
  async stats(filter?: string, signal?: AbortSignal): Promise<Map<string, number>> {
    const path = filter === undefined ? '/stats' : `/stats?filter=${encodeURIComponent(filter)}`;
    const { status, body } = await this.#call('GET', path, signal);
    if (status !== 200) throw this.#unexpected('GET', path, status);
    return parseStats(body);
  }

  /** Active downstream connections; see {@link countConnections}. */
  async activeConnections(signal?: AbortSignal): Promise<number> {
    const count = countConnections(await this.stats(CONNECTION_STATS, signal));
    if (count === undefined) {
      throw new EnvoyAdminError(
        'ENVOY_ADMIN_ERROR',
        `Envoy admin API at ${formatAdminAddress(this.address)} reported no connection stats`,
      );
    }
    return count;
  }

  async #post(path: string, signal: AbortSignal | undefined): Promise<void> {
    const { status } = await this.#call('POST', path, signal);
    if (status !== 200) throw this.#unexpected('POST', path, status);
  }

  async #call(method: string, path: string, signal: AbortSignal | undefined) {
    const timeout = AbortSignal.timeout(this.#requestTimeout);
    const bound = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const target =
      'socketPath' in this.address
        ? { url: `http://localhost${path}`, socketPath: this.address.socketPath }
        : { url: `http://${formatAdminAddress(this.address)}${path}` };
    try {
      return await httpRequest({ method, ...target, signal: bound, maxBodyBytes: 4 * 1_048_576 });
    } catch (error) {
      // The caller's own abort passes through untouched; everything else means "did not answer".
      if (signal?.aborted) throw error;
      const why = timeout.aborted ? `no answer within ${this.#requestTimeout}ms` : (error as Error).message;
      throw new EnvoyAdminError(
        'ENVOY_ADMIN_UNREACHABLE',
        `Envoy admin API at ${formatAdminAddress(this.address)} did not answer ${method} ${path}: ${why}`,
      );
    }
  }

  #unexpected(method: string, path: string, status: number): EnvoyAdminError {
    return new EnvoyAdminError(
      'ENVOY_ADMIN_ERROR',
      `Envoy admin API at ${formatAdminAddress(this.address)} answered ${method} ${path} with ${status}`,
      status,
    );
  }
}

/** Parses Envoy's text stats (`name: value` per line); non-numeric values (histograms) are skipped. */
export function parseStats(text: string): Map<string, number> {
  const stats = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.lastIndexOf(': ');
    if (colon < 0) continue;
    const value = Number(line.slice(colon + 2).trim());
    if (Number.isFinite(value)) stats.set(line.slice(0, colon).trim(), value);
  }
  return stats;
}

/**
 * Active downstream connections from Envoy's stats: the sum of `listener.<name>.downstream_cx_active`
 * over the traffic listeners, or else `server.total_connections`; `undefined` when neither is there.
 *
 * Why the listener gauges come first: they move with every connection, while Envoy refreshes
 * `server.total_connections` only when it flushes stats (every 5 s by default), which would keep a
 * drain waiting seconds after the last connection closed. Skipped: `listener.admin.*` (our own
 * stats request is one of those connections) and the per-worker copies `listener.<name>.worker_N.*`,
 * which would count every connection twice.
 */
export function countConnections(stats: ReadonlyMap<string, number>): number | undefined {
  let sum = 0;
  let seen = false;
  for (const [name, value] of stats) {
    const match = /^listener\.(.+)\.downstream_cx_active$/.exec(name);
    const listener = match?.[1];
    if (listener === undefined || listener === 'admin' || /\.worker_\d+$/.test(listener)) continue;
    sum += value;
    seen = true;
  }
  if (seen) return sum;
  return stats.get('server.total_connections');
}
