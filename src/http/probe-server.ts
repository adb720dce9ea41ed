import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HostPort } from '../util/address.js';
import { listen } from './listen.js';

/** A listening endpoint for probes and scrapers. */
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

/**
 * Serves `handler` on `address` for probes and scrapers (health endpoints, metrics), with the
 * bounds above. Rejects with the system error when the address cannot be bound; callers name it.
 */
export async function serveProbes(
  address: HostPort,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Endpoint> {
  const server = createServer(REQUEST_LIMITS, handler);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
  server.setTimeout(IDLE_TIMEOUT, (socket) => socket.destroy());
  // Every socket, from the moment it is accepted: the HTTP server's own list (closeAllConnections)
  // is not a contract that covers a connection before it has sent anything, and one such
  // connection left open would hold the close, and so the exit, back.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const bound = await listen(server, address);
  // Later errors are failed accepts (out of file descriptors, say): they cost that one
  // connection, not the endpoint, and must not crash the process.
  server.on('error', () => undefined);
  return {
    address: bound,
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** A GET (or HEAD) of `path`, whatever the query. */
export function isGet(req: IncomingMessage, path: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.url ?? '').split('?')[0] === path;
}

/** Answers `status` with `text` and a newline, as plain text. */
export function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${text}\n`);
}
