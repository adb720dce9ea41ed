/**
 * Corral as a library: a small service stopped gracefully. An HTTP API and a background worker
 * share a pg pool; the pool needs PostgreSQL, which the demo runs itself unless `DATABASE_URL`
 * names one. Health endpoints answer on their own port.
 *
 * Start order: initdb, postgres, db-pool, then http and worker together. Press Ctrl-C: http stops
 * accepting and lets requests in flight finish, the worker finishes its job in hand, then the pool
 * is ended, then PostgreSQL stops: the reverse of the start order.
 *
 *   PORT=8080 HEALTH_PORT=9902 npm run demo:library
 *   curl 127.0.0.1:8080/          # how many jobs the worker has done
 *   curl 127.0.0.1:8080/slow      # answers after 2 s, even when Ctrl-C comes in between
 *   curl 127.0.0.1:9902/ready     # READY, NOT_READY or TERMINATING
 */
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { Isolation, Manager, OutputSink } from '../../src/index.js';
import { healthServer, httpServer } from '../../src/http/index.js';
import { database } from './database.js';
import { poolComponent } from './pool.js';
import { workerComponent } from './worker.js';

const isolation = await Isolation.create();
const manager = new Manager({ shutdownTimeout: 20_000 });
const started = Date.now();
const log = (line: string): void => console.log(`+${Date.now() - started}ms ${line}`);

const output = new OutputSink(process.stdout);
const db = await database(isolation, output);
const pool = poolComponent(db.url, db.dependsOn);
const api = httpServer({
  name: 'http',
  dependsOn: ['db-pool'],
  address: `127.0.0.1:${process.env.PORT ?? 0}`,
  closeTimeout: 5_000,
  server: createServer((req, res) => {
    if (req.url === '/slow') {
      log('slow request received');
      delay(2_000).then(
        () => res.end('slow answer\n'),
        () => res.end(),
      );
      return;
    }
    pool.pool.query<{ done: string }>('SELECT count(done_at) AS done FROM jobs').then(
      ({ rows }) => res.end(`${rows[0]?.done ?? 0} jobs done\n`),
      () => res.writeHead(503).end('database unavailable\n'),
    );
  }),
});
for (const component of [...db.components, pool, api, workerComponent(pool.pool)]) manager.add(component);

manager.on((event) => {
  if (event.type === 'shutdown.started') log(`shutdown (${event.reason})`);
  else if (event.type === 'warning') log(`warning ${event.code}: ${event.message}`);
  else if ('component' in event && event.type.startsWith('component.')) {
    log(`${event.type} ${event.component}`);
  }
  if (event.type === 'component.ready' && event.component === 'http') {
    log(`http listening on 127.0.0.1:${api.address?.port}`);
  }
  if (event.type === 'component.ready' && manager.ready()) log('all components ready; press Ctrl-C to stop');
});

const health = await healthServer({ manager, address: `127.0.0.1:${process.env.HEALTH_PORT ?? 0}` });
log(`health endpoints on 127.0.0.1:${health.address.port} (/ready, /live)`);

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
try {
  await manager.run(stop.signal);
  log('stopped cleanly');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await health.close();
  await output.close();
  await isolation.close();
  db.remove();
}
