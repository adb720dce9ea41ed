import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { waitUntil } from '../helpers/process.js';
import {
  assertNothingLeft,
  FIXTURES,
  freePort,
  get,
  runCorral,
  scratch,
  startCorral,
  type Corral,
} from '../helpers/cli.js';

/**
 * `corral run` with `leaderElection.postgres`: two replicas against a real PostgreSQL, one leader
 * component each. Exactly one runs it; when that replica is SIGKILLed the other takes over; the
 * password never shows.
 */

let db: PostgresCluster;
before(async () => {
  db = await startPostgres();
});
after(async () => {
  await db.cleanup();
});

const isLeader = async (port: number): Promise<boolean> =>
  (await get(`http://127.0.0.1:${port}/metrics`)).body.includes('\ncorral_leader 1');

test(
  'two replicas: one leads, the other takes over after a SIGKILL, and the password never shows',
  { timeout: 120_000 },
  async () => {
    const s = scratch();
    const replicas: { corral: Corral; metrics: number }[] = [];
    try {
      for (const name of ['one', 'two']) {
        const metrics = await freePort();
        const file = s.write(
          `${name}.yaml`,
          `metrics: { address: 127.0.0.1:${metrics} }
leaderElection:
  postgres: { url: "\${DATABASE_URL}", name: cli-test, lease: 2s }
components:
  api:
    command: [${FIXTURES}forever]
  reconciler:
    command: [${FIXTURES}forever]
    leader: true
`,
        );
        replicas.push({
          corral: startCorral(['run', '-f', file], { env: { DATABASE_URL: db.url() } }),
          metrics,
        });
      }
      // Both run their ordinary component; exactly one runs the leader component.
      await waitUntil(
        async () => (await Promise.all(replicas.map((r) => isLeader(r.metrics)))).some(Boolean),
        'a leader',
        30_000,
      );
      const leading = await Promise.all(replicas.map((r) => isLeader(r.metrics)));
      assert.equal(leading.filter(Boolean).length, 1);
      const leader = replicas[leading.indexOf(true)];
      const follower = replicas[leading.indexOf(false)];
      assert.ok(leader && follower);
      const running = (c: Corral, component: string) =>
        c.records().filter((r) => r.event === 'component.ready' && r.component === component).length;
      await leader.corral.waitForRecord(
        (r) => r.event === 'component.ready' && r.component === 'reconciler',
        'leader component',
      );
      // The replicas start independently: the follower's ordinary component may come up after the
      // leader's leader component.
      await follower.corral.waitForRecord(
        (r) => r.event === 'component.ready' && r.component === 'api',
        'the follower runs its ordinary components',
      );
      assert.equal(running(leader.corral, 'reconciler'), 1);
      assert.equal(running(follower.corral, 'reconciler'), 0);
      assert.equal(running(follower.corral, 'api'), 1, 'a follower runs its ordinary components');
      assert.match(
        (await get(`http://127.0.0.1:${leader.metrics}/metrics`)).body,
        /\ncorral_leader_term [1-9]/,
      );

      leader.corral.signal('SIGKILL');
      await follower.corral.waitForRecord(
        (r) => r.event === 'component.ready' && r.component === 'reconciler',
        'takeover',
        30_000,
      );
      assert.ok(await isLeader(follower.metrics));

      follower.corral.signal('SIGTERM');
      assert.equal(await follower.corral.exited, 0);
      for (const r of replicas) {
        assert.ok(!(r.corral.stdout + r.corral.stderr).includes(db.password), 'the password leaked');
      }
      await assertNothingLeft(follower.corral);
      await assertNothingLeft(leader.corral); // the watchdog and parent-death signal cleaned up after the SIGKILL
    } finally {
      for (const r of replicas) r.corral.child.kill('SIGKILL');
      s.cleanup();
    }
  },
);

test('corral check names the leader components and the election', { timeout: 30_000 }, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `leaderElection:
  postgres: { url: "postgres://corral:hunter2@127.0.0.1:1/corral", name: reconcilers, lease: 5s }
components:
  reconciler:
    command: [sleep, "1"]
    leader: true
`,
  );
  const { code, stdout } = await runCorral(['check', '-f', file]);
  s.cleanup();
  assert.equal(code, 0);
  assert.match(
    stdout,
    /leader components: reconciler \(elected on PostgreSQL, election "reconcilers", lease 5s\)/,
  );
  assert.ok(!stdout.includes('hunter2'));
});
