/**
 * A pg connection pool as a component: ready once the database answers (it may still be starting
 * up), and on stop, ended only after everything that uses it has stopped, which Corral ensures by
 * the dependency order.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import type { Component } from '../../src/index.js';

export interface PoolComponent extends Component {
  /** The pool; usable once the component is ready. */
  readonly pool: pg.Pool;
}

export function poolComponent(url: string, dependsOn: readonly string[]): PoolComponent {
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  return {
    name: 'db-pool',
    dependsOn,
    pool,
    async run(signal, ctx) {
      try {
        // The server may accept connections before it can run queries: retry until it can.
        for (;;) {
          try {
            await pool.query('CREATE TABLE IF NOT EXISTS jobs (id serial PRIMARY KEY, done_at timestamptz)');
            break;
          } catch (error) {
            if (signal.aborted) return;
            ctx.emit({
              type: 'warning',
              code: 'DB_NOT_READY',
              message: `database not ready yet: ${String(error)}`,
            });
            await delay(200, undefined, { signal }).catch(() => undefined);
          }
        }
        ctx.ready();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      } finally {
        await pool.end();
      }
    },
  };
}
