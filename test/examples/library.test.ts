import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { killPids, waitGone, waitUntil } from '../helpers/process.js';

// The README's library demo, run as a user runs it (`npm run demo:library`): an HTTP server and a
// worker on a pg pool, stopped with Ctrl-C.

interface Demo {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in the output so far or to come. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
}

function startDemo(env: Record<string, string>): Demo {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/library/main.ts'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (output += chunk));
  }
  return {
    child,
    output: () => output,
    async waitFor(pattern) {
      await waitUntil(
        () => pattern.test(output) || child.exitCode !== null,
        `${pattern} in:\n${output}`,
        60_000,
      );
      const match = output.match(pattern);
      assert.ok(match, `the demo exited before printing ${pattern}:\n${output}`);
      return match;
    },
  };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** The lifecycle events the demo printed, in order, e.g. `stopped db-pool`. */
function lifecycle(output: string, kinds: string): string[] {
  return [...output.matchAll(new RegExp(`component\\.(${kinds}) (\\S+)`, 'g'))].map((m) => `${m[1]} ${m[2]}`);
}

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster.cleanup();
});

test(
  'with the tests’ PostgreSQL, a request in flight at Ctrl-C is answered and the worker finishes its job',
  { timeout: 120_000 },
  async () => {
    const demo = startDemo({ DATABASE_URL: cluster.url() });
    try {
      const [, port] = await demo.waitFor(/http listening on 127\.0\.0\.1:(\d+)/);
      const [, healthPort] = await demo.waitFor(/health endpoints on 127\.0\.0\.1:(\d+)/);
      await demo.waitFor(/all components ready/);
      assert.deepEqual(await get(`http://127.0.0.1:${healthPort}/ready`), { status: 200, body: 'READY\n' });
      await waitUntil(
        async () => /^[1-9]\d* jobs done/.test((await get(`http://127.0.0.1:${port}/`)).body),
        'a job done',
        30_000,
      );

      const slow = get(`http://127.0.0.1:${port}/slow`);
      await demo.waitFor(/slow request received/);
      demo.child.kill('SIGINT');
      assert.deepEqual(await slow, { status: 200, body: 'slow answer\n' });
      const [code] = (await once(demo.child, 'exit')) as [number | null];
      assert.equal(code, 0, demo.output());

      const order = lifecycle(demo.output(), 'ready|stopped');
      assert.deepEqual(order.slice(0, 1), ['ready db-pool']);
      assert.deepEqual(order.slice(-1), ['stopped db-pool'], 'the pool is ended last');
      assert.deepEqual(new Set(order.slice(1, 3)), new Set(['ready http', 'ready worker']));
      assert.deepEqual(new Set(order.slice(3, 5)), new Set(['stopped http', 'stopped worker']));
      assert.match(demo.output(), /stopped cleanly/);

      const client = new pg.Client({ connectionString: cluster.url() });
      await client.connect();
      try {
        const { rows } = await client.query<{ total: number; unfinished: number }>(
          'SELECT count(*)::int AS total, count(*) FILTER (WHERE done_at IS NULL)::int AS unfinished FROM jobs',
        );
        assert.ok((rows[0]?.total ?? 0) > 0, 'the worker took jobs');
        assert.equal(rows[0]?.unfinished, 0, 'no job is left half done');
      } finally {
        await client.end();
      }
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
    }
  },
);

test(
  'without DATABASE_URL, the demo runs its own PostgreSQL and leaves neither a server nor its files',
  { timeout: 120_000 },
  async () => {
    const demo = startDemo({ DATABASE_URL: '' });
    let postmaster: number | undefined;
    try {
      await demo.waitFor(/all components ready/);
      const [, pid] = await demo.waitFor(/postgres \| .*\[(\d+)\] LOG: {2}database system is ready/);
      postmaster = Number(pid);
      const [, dir] = await demo.waitFor(/listening on Unix socket "(\/[^"]+)\/\.s\.PGSQL/);
      demo.child.kill('SIGINT');
      const [code] = (await once(demo.child, 'exit')) as [number | null];
      assert.equal(code, 0, demo.output());
      assert.deepEqual(lifecycle(demo.output(), 'stopped').slice(-2), [
        'stopped db-pool',
        'stopped postgres',
      ]);
      await waitGone([postmaster]);
      assert.equal(existsSync(dir as string), false, `${dir} is removed`);
    } finally {
      if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
      if (postmaster !== undefined) killPids([postmaster]);
    }
  },
);
