import http from 'node:http';
import https from 'node:https';
import { redactUrl } from '../util/redact.js';
import { HttpCallError } from './errors.js';

/** One HTTP request, as the drain trigger, the connections probe and the Envoy admin client make it. */
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
 * Makes one request on a fresh connection (no keep-alive agent, so nothing lingers after it) and
 * resolves with the status and the whole body, whatever the status. Rejects with
 * {@link HttpCallError} when no response arrives, or with `signal.reason` when aborted.
 */
export function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const shown = redactUrl(request.url);
  const method = request.method ?? 'GET';
  const maxBodyBytes = request.maxBodyBytes ?? 1_048_576;
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    // URL's own error quotes its input, credentials included; ours does not.
    return Promise.reject(new HttpCallError(`invalid URL ${shown}`));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new HttpCallError(`unsupported URL scheme in ${shown}; expected http: or https:`));
  }
  if (request.signal?.aborted) return Promise.reject(request.signal.reason as Error);

  return new Promise<HttpResponse>((resolve, reject) => {
    const auth =
      url.username || url.password
        ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
        : undefined;
    const options: http.RequestOptions = {
      method,
      path: `${url.pathname}${url.search}`,
      headers: { ...request.headers },
      agent: false,
      ...(auth === undefined ? {} : { auth }),
      ...(request.socketPath === undefined
        ? { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || undefined }
        : { socketPath: request.socketPath }),
    };
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          req.destroy(new HttpCallError(`${method} ${shown} answered with more than ${maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const onAbort = (): void => {
      req.destroy(request.signal?.reason as Error);
    };
    function fail(error: unknown): void {
      request.signal?.removeEventListener('abort', onAbort);
      if (request.signal?.aborted) {
        reject(request.signal.reason as Error);
      } else if (error instanceof HttpCallError) {
        reject(error);
      } else {
        // Node's socket errors name only the address (ECONNREFUSED 127.0.0.1:9901), never the URL.
        const detail = error instanceof Error ? error.message : String(error);
        reject(new HttpCallError(`${method} ${shown} failed: ${detail}`));
      }
    }
    req.on('error', fail);
    req.on('close', () => request.signal?.removeEventListener('abort', onAbort));
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}
