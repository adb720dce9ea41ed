import type { RequestOptions } from 'node:http';
import { redactUrl } from './redact.js';

/**
 * The one HTTP client of Corral: readiness probes, drain triggers, connection counts and the Envoy
 * admin API all make their requests here. Node's HTTP client (and for https its TLS and crypto
 * stacks) is imported on the first request, not with this module: a run keeps in memory whatever
 * it imported, and most stacks never make a request.
 */

export interface HttpRequest {
  /** @default 'GET' */
  readonly method?: string;
  /** `http:` or `https:`; credentials in it are sent as basic auth; errors show it redacted (see redactUrl). */
  readonly url: string;
  /** Sent as given; their values never appear in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Connect to this unix socket instead of the URL's host and port (Envoy's `unix:` admin address). */
  readonly socketPath?: string;
  /** Aborting it destroys the request at once; the promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Read the body. Without it the call resolves as soon as the status arrives, with an empty body,
   * and the connection is closed: a readiness check needs no more, whatever the endpoint streams.
   * @default true
   */
  readonly readBody?: boolean;
  /**
   * A larger body fails the call rather than being buffered without bound.
   * @default 1_048_576
   */
  readonly maxBodyBytes?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/**
 * No response arrived (the connection failed, the body was too large, the URL is not http(s)).
 * The message names the request with its URL redacted; `cause` is the network error, if any, whose
 * message names only the address (`connect ECONNREFUSED 127.0.0.1:9901`). Callers turn it into an
 * error of their own subject (a drain trigger, a connections probe, the Envoy admin API).
 */
export class HttpCallError extends Error {
  readonly code = 'HTTP_CALL_FAILED';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpCallError';
  }
}

/**
 * Makes one request on a fresh connection (no keep-alive agent, so nothing lingers after it) and
 * resolves with the status and, unless `readBody` is false, the whole body, whatever the status.
 * Rejects with {@link HttpCallError} when no response arrives, or with `signal.reason` when aborted.
 */
export async function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const shown = redactUrl(request.url);
  const method = request.method ?? 'GET';
  const maxBodyBytes = request.maxBodyBytes ?? 1_048_576;
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    // URL's own error quotes its input, credentials included; ours does not.
    throw new HttpCallError(`invalid URL ${shown}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpCallError(`unsupported URL scheme in ${shown}; expected http: or https:`);
  }
  const { request: send } =
    url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const { signal } = request;
  signal?.throwIfAborted();

  return new Promise<HttpResponse>((resolve, reject) => {
    const auth =
      url.username || url.password
        ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
        : undefined;
    const options: RequestOptions = {
      method,
      path: `${url.pathname}${url.search}`,
      headers: { ...request.headers },
      agent: false,
      signal,
      ...(auth === undefined ? {} : { auth }),
      ...(request.socketPath === undefined
        ? { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || undefined }
        : { socketPath: request.socketPath }),
    };
    const req = send(options, (res) => {
      const status = res.statusCode ?? 0;
      if (request.readBody === false) {
        res.destroy();
        resolve({ status, body: '' });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBodyBytes) {
          chunks.push(chunk);
          return;
        }
        // Failed here rather than through destroy's error event: the end of a body that came in
        // one chunk would be emitted first, and resolve with the body cut off.
        fail(new HttpCallError(`${method} ${shown} answered with more than ${maxBodyBytes} bytes`));
        req.destroy();
      });
      res.on('end', () => {
        if (size <= maxBodyBytes) resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    function fail(error: unknown): void {
      if (signal?.aborted) {
        reject(signal.reason as Error);
      } else if (error instanceof HttpCallError) {
        reject(error);
      } else {
        // Node's socket errors name only the address (ECONNREFUSED 127.0.0.1:9901), never the URL.
        const detail = error instanceof Error ? error.message : String(error);
        reject(new HttpCallError(`${method} ${shown} failed: ${detail}`, { cause: error }));
      }
    }
    req.on('error', fail);
    req.end();
  });
}
