import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HostPort } from './address.js';

/** What `/ready` answers, as kuma-dp does: 200 READY, or 503 NOT_READY / TERMINATING. */
export type Readiness = 'READY' | 'NOT_READY' | 'TERMINATING';

/** A listening HTTP endpoint. */
export interface Endpoint {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: HostPort;
  /** Stops listening and closes idle keep-alive connections; resolves when closed. */
  close(): Promise<void>;
}

/** `GET /ready`: 200 READY or 503 NOT_READY / TERMINATING; any other path is 404. */
export function serveReadiness(address: HostPort, readiness: () => Readiness): Promise<Endpoint> {
  return serve(address, (req, res) => {
    if (!isGet(req, '/ready')) {
      notFound(res);
      return;
    }
    const state = readiness();
    res.writeHead(state === 'READY' ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(`${state}\n`);
  });
}

/** `GET /metrics` in the Prometheus text format; any other path is 404. */
export function serveMetrics(address: HostPort, registry: Registry): Promise<Endpoint> {
  return serve(address, (req, res) => {
    if (!isGet(req, '/metrics')) {
      notFound(res);
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      () => {
        res.writeHead(500).end();
      },
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

async function serve(
  address: HostPort,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Endpoint> {
  const server: Server = createServer(handler);
  // Probes come every few seconds; a long keep-alive would only hold the close back.
  server.keepAliveTimeout = 1_000;
  server.listen(address.port, address.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  const bound = server.address() as AddressInfo;
  return {
    address: { host: address.host, port: bound.port },
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
