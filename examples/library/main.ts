/**
 * Corral as a library: three in-process components with dependencies. A database pool, an HTTP
 * server that needs it, and a worker that needs the server. Press Ctrl-C: the worker stops first,
 * then the server (closing its connections), then the pool — the reverse of the start order.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { fromFunction, Manager, type Component } from '../../src/index.js';

const pool = fromFunction('db-pool', async (signal) => {
  // Stands in for opening and closing real connections.
  await once(signal, 'abort');
  await delay(300);
});

const api: Component = {
  name: 'http',
  dependsOn: ['db-pool'],
  async run(signal, ctx) {
    const server = createServer((_req, res) => res.end('hello from corral\n'));
    server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    console.log(`http listening on 127.0.0.1:${typeof address === 'object' && address ? address.port : '?'}`);
    ctx.ready();
    await once(signal, 'abort');
    // Resolve only when every connection is closed: that is what makes the stop graceful.
    server.close();
    server.closeIdleConnections();
    await once(server, 'close');
  },
};

const worker = fromFunction(
  'worker',
  async (signal) => {
    while (!signal.aborted) await delay(500, undefined, { signal }).catch(() => undefined);
  },
  { dependsOn: ['http'] },
);

const manager = new Manager({ shutdownTimeout: 10_000 });
const started = Date.now();
manager.on((event) => {
  if ('component' in event) console.log(`+${Date.now() - started}ms ${event.type} ${event.component}`);
  else if (event.type === 'shutdown.started')
    console.log(`+${Date.now() - started}ms shutdown (${event.reason})`);
  if (event.type === 'component.ready' && manager.ready())
    console.log('all components ready; press Ctrl-C to stop');
});
for (const component of [worker, api, pool]) manager.add(component);

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
try {
  await manager.run(stop.signal);
  console.log('stopped cleanly');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
