import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { HostPort } from '../util/address.js';
import { EndpointBindError } from './endpoint-bind-error.js';

/** What `/ready` answers, as kuma-dp does: 200 READY, or 503 NOT_READY / TERMINATING. */
export type Readiness = 'READY' | 'NOT_READY' | 'TERMINATING';

/** A listening HTTP endpoint. */
export interface Endpoint {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: HostPort;
  /**
   * Stops listening and destroys every connection, whatever state it is in (idle, half a request
   * sent, a response not read); resolves when closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * `GET /ready`: 200 READY or 503 NOT_READY / TERMINATING; any other path is 404. Rejects with an
 * {@link EndpointBindError} naming `readiness.address` when the address cannot be bound.
 */
export function serveReadiness(address: HostPort, readiness: () => Readiness): Promise<Endpoint> {
  return serve('readiness.address', address, '/ready', (res) => {
    const state = readiness();
    res.writeHead(state === 'READY' ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(`${state}\n`);
  });
}

/**
 * `GET /metrics` in the Prometheus text format; any other path is 404. Rejects with an
 * {@link EndpointBindError} naming `metrics.address` when the address cannot be bound.
 */
export function serveMetrics(address: HostPort, registry: Registry): Promise<Endpoint> {
  return serve('metrics.address', address, '/metrics', (res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      () => res.writeHead(500).end(),
    );
  });
}

function isGet(req: IncomingMessage, path: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.url ?? '').split('?')[0] === path;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

/**
 * Bounds on a client, so that none can hold a connection open for long: probes and scrapers send
 * their request at once and read the answer at once.
 */
const REQUEST_LIMITS = {
  /** From the connection (or the previous request) to the end of the request's headers. */
  headersTimeout: 5_000,
  /** From the connection (or the previous request) to the end of the whole request. */
  requestTimeout: 10_000,
  /** How often the two above are checked. */
  connectionsCheckingInterval: 1_000,
};
/** Probes come every few seconds; a long keep-alive would only hold the close back. */
const KEEP_ALIVE_TIMEOUT = 1_000;
/** A socket with no traffic either way (a response never read) is destroyed after this. */
const IDLE_TIMEOUT = 10_000;

/** Serves `GET path` (HEAD too) with `answer`; any other request is 404. */
async function serve(
  field: string,
  address: HostPort,
  path: string,
  answer: (res: ServerResponse) => void,
): Promise<Endpoint> {
  const server: Server = createServer(REQUEST_LIMITS, (req, res) => {
    if (isGet(req, path)) answer(res);
    else notFound(res);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
  server.setTimeout(IDLE_TIMEOUT, (socket) => socket.destroy());
  // Every socket, from the moment it is accepted: the HTTP server's own list (closeAllConnections)
  // is not a contract that covers a connection before it has sent anything, and one such
  // connection left open would hold the close, and so Corral's exit, back.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.listen(address.port, address.host);
  try {
    await listening;
  } catch (error) {
    throw new EndpointBindError(field, address, error as NodeJS.ErrnoException);
  }
  // Later errors are failed accepts (out of file descriptors, say): they cost that one
  // connection, not the endpoint, and must not crash Corral.
  server.on('error', () => undefined);
  const bound = server.address() as AddressInfo;
  return {
    address: { host: address.host, port: bound.port },
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
