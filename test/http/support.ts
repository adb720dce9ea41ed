import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { Manager } from '../../src/core/manager.js';
import type { CorralEvent } from '../../src/events.js';
import { httpServer, type HttpServerComponent, type HttpServerOptions } from '../../src/http/server.js';
import { recordEvents } from '../../src/testing/record-events.js';
import { waitUntil } from '../helpers/process.js';

/** Shared by the HTTP server tests: a real server run by a real manager, and real clients. */

/** The TCP handles open in this process: the baseline a test must return to. */
export function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length;
}

/** Waits until no more TCP handles are open than `baseline`. */
export function waitForHandles(baseline: number, what = 'every socket closed'): Promise<void> {
  return waitUntil(
    () => tcpHandles() <= baseline,
    `${what} (${tcpHandles()} TCP handles, ${baseline} before)`,
  );
}

/** A request the server received and holds until the test calls `release`. */
export interface Held {
  readonly path: string;
  release(): void;
}

export interface Running {
  readonly component: HttpServerComponent;
  readonly server: Server;
  readonly manager: Manager;
  readonly events: CorralEvent[];
  readonly port: number;
  /** Aborts the run. */
  stop(): void;
  /** The manager's run. */
  readonly done: Promise<void>;
  /** Requests held by the handler's `/hold` paths, in the order they arrived. */
  readonly held: Held[];
}

/**
 * Runs an `httpServer` component in a manager, with a handler: `/fast` answers at once; `/hold`
 * (and `/hold-headers`, which sends the headers first) waits for the test's release (see
 * {@link Held}); `/slow?ms=N` answers after N ms by itself; `/sse` starts an event stream that never ends by itself. Resolves once ready.
 */
export async function runServer(options: Partial<HttpServerOptions> = {}): Promise<Running> {
  const held: Held[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/hold' || path === '/hold-headers') {
      if (path === '/hold-headers') res.writeHead(200, { 'content-type': 'text/plain' }).flushHeaders();
      held.push({ path, release: () => res.end('held\n') });
    } else if (path === '/slow') {
      const ms = Number(new URLSearchParams((req.url ?? '').split('?')[1]).get('ms'));
      held.push({ path, release: () => undefined });
      setTimeout(() => res.end('slow\n'), ms);
    } else if (path === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: hello\n\n');
    } else {
      res.end('fast\n');
    }
  });
  // Far longer than any test: an idle keep-alive connection left to Node would hold the stop.
  server.keepAliveTimeout = 60_000;
  const component = httpServer({ name: 'api', server, address: '127.0.0.1:0', ...options });
  const manager = new Manager();
  const events = recordEvents(manager);
  manager.add(component);
  const controller = new AbortController();
  const done = manager.run(controller.signal);
  await manager.whenReady();
  const port = component.address?.port ?? 0;
  return { component, server, manager, events, port, stop: () => controller.abort(), done, held };
}

/** A response read whole, or the error the request ended with. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** GET `path` through `agent`; resolves with the whole answer, rejects on a network error. */
export function fetchVia(agent: Agent | false, port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens `count` keep-alive connections through `agent`, each left idle in its pool. */
export async function idleConnections(agent: Agent, port: number, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => fetchVia(agent, port, '/fast')));
  await waitUntil(
    () => Object.values(agent.freeSockets).flat().length === count,
    `${count} idle keep-alive connections`,
  );
}

export { once };
