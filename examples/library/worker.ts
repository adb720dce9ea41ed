/**
 * A background worker: takes a job, works on it, marks it done. On stop it finishes the job in
 * hand and takes no new one, so no job is left half done; the pool it uses is ended only after it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { Component } from '../../src/index.js';

export function workerComponent(pool: pg.Pool): Component {
  return {
    name: 'worker',
    dependsOn: ['db-pool'],
    async run(signal, ctx) {
      ctx.ready();
      while (!signal.aborted) {
        const { rows } = await pool.query<{ id: number }>('INSERT INTO jobs DEFAULT VALUES RETURNING id');
        // The work itself is not interrupted by the stop: it is short, and finishing it is the point.
        await delay(200);
        await pool.query('UPDATE jobs SET done_at = now() WHERE id = $1', [rows[0]?.id]);
        await delay(300, undefined, { signal }).catch(() => undefined);
      }
    },
  };
}
