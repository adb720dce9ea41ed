// Three replicas, each a separate OS process running Corral's Manager with a PostgresElector and one
// leader component that logs its term with the database's clock (test/fixtures/leader-replica.ts).
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import {
  assertNoOverlap,
  createTermLog,
  killAll,
  leaseRow,
  lockHolders,
  Replica,
  termLog,
  TIMINGS,
  waitUntil,
  type ReplicaConfig,
} from './support.js';

const T = { timeout: 90_000 };

let cluster: PostgresCluster;
const started: Replica[] = [];

before(async () => {
  cluster = await startPostgres();
  await createTermLog(cluster);
});
afterEach(async () => {
  await killAll(started.splice(0));
});
after(async () => {
  await killAll(started);
  await cluster.cleanup();
});

function replica(election: string, name: string, extra: Partial<ReplicaConfig> = {}): Replica {
  const r = new Replica({ url: cluster.url(), election, replica: name, timings: TIMINGS, ...extra });
  started.push(r);
  return r;
}

/** Starts three replicas and waits for one leader with its term logged and two followers on the lock. */
async function threeReplicas(election: string): Promise<{ leader: Replica; followers: Replica[] }> {
  const rs = ['r1', 'r2', 'r3'].map((name) => replica(election, name));
  await Promise.all(rs.map((r) => r.waitFor('steady', true, 30_000)));
  await waitUntil(() => rs.filter((r) => r.leadingToken !== undefined).length === 1, 'one leader', 20_000);
  const leader = rs.find((r) => r.leadingToken !== undefined) as Replica;
  await leader.waitFor('logged');
  await waitUntil(
    async () => (await lockHolders(cluster, election)).waiting === 2,
    'both followers waiting on the lock',
    20_000,
  );
  return { leader, followers: rs.filter((r) => r !== leader) };
}

const leading = (rs: readonly Replica[]): Replica[] => rs.filter((r) => r.leadingToken !== undefined);

test('3 replicas elect exactly one leader and keep it', T, async () => {
  const { leader, followers } = await threeReplicas('three');
  // Let the leader renew several times while both followers wait.
  const first = (await leaseRow(cluster, 'three'))?.renewed_at.getTime() ?? 0;
  await waitUntil(
    async () =>
      ((await leaseRow(cluster, 'three'))?.renewed_at.getTime() ?? 0) - first >= 3 * TIMINGS.renewInterval,
    'three renewals',
  );
  assert.equal(leader.leadingToken, 1);
  for (const f of followers) assert.equal(f.find('leading'), undefined, `${f.name} led`);
  const log = await termLog(cluster, 'three');
  assert.deepEqual(
    log.map((t) => [t.token, t.replica]),
    [[1, leader.name]],
  );
  assert.equal((await lockHolders(cluster, 'three')).granted.length, 1);
});

test('kill -9 of the leader: a follower runs its leader component within 5 s', T, async (t) => {
  const { leader, followers } = await threeReplicas('kill');
  const killedAt = performance.now();
  leader.kill('SIGKILL');
  await waitUntil(() => leading(followers).length === 1, 'a follower leads', 5_000);
  const [next] = leading(followers) as [Replica];
  const line = next.find('leading', 2);
  assert.ok(line, 'term 2 follows term 1');
  const failover = line.at - killedAt;
  // The follower waited the grace (500 ms): the lock alone cannot tell a crash from a cut session.
  t.diagnostic(`failover ${failover.toFixed(0)} ms`);
  assert.ok(failover >= 450 && failover < 5_000, `failover took ${failover.toFixed(0)} ms`);
  await next.waitFor('logged');
  const log = await termLog(cluster, 'kill');
  assert.deepEqual(
    log.map((t) => t.token),
    [1, 2],
  );
  assert.equal(log[0]?.stopped_at, null, 'a killed leader never logs its stop');
  assertNoOverlap(log, false);
  assert.equal(leading(followers).length, 1);
});

test('SIGSTOP of the leader past its lease, then SIGCONT: it stepped down, no overlap', T, async (t) => {
  const { leader, followers } = await threeReplicas('stall');
  await waitUntil(async () => ((await termLog(cluster, 'stall'))[0]?.works ?? 0) >= 2, 'the leader works');
  const stoppedAt = performance.now();
  leader.kill('SIGSTOP');
  await waitUntil(() => leading(followers).length === 1, 'a follower leads', 15_000);
  const [next] = leading(followers) as [Replica];
  const tookOver = (next.find('leading', 2)?.at ?? 0) - stoppedAt;
  // The stalled leader's session is alive and holds the lock: only the lease's expiry lets anyone in.
  assert.ok(
    tookOver >= TIMINGS.lease - TIMINGS.renewInterval,
    `took over ${tookOver.toFixed(0)} ms after SIGSTOP`,
  );
  await next.waitFor('logged');
  await waitUntil(() => performance.now() - stoppedAt > TIMINGS.lease, 'stopped for longer than the lease');
  leader.kill('SIGCONT');
  await leader.waitFor('stopped', 1);
  // On waking, the old leader judged by its own clock that its term was over.
  const warnings = leader
    .all('elector')
    .map((l) => l.elector as { type: string; code?: string; message?: string });
  const deadline = warnings.find((w) => w.code === 'LEADER_DEADLINE_PASSED');
  assert.ok(deadline, `no deadline warning in ${JSON.stringify(warnings)}`);
  assert.match(deadline.message ?? '', /term 1 was not renewed/);
  const log = await termLog(cluster, 'stall');
  assert.deepEqual(
    log.map((t) => [t.token, t.replica]),
    [
      [1, leader.name],
      [2, next.name],
    ],
  );
  // Term 1's last accepted work precedes term 2's start; whatever it tried after waking was fenced off.
  assertNoOverlap(log, false);
  const [old, current] = log as [(typeof log)[0], (typeof log)[0]];
  assert.ok(old.stopped_at && old.stopped_at > current.started_at, 'term 1 logged its stop after waking');
  const late = leader.all('rejected').length;
  t.diagnostic(
    `took over ${tookOver.toFixed(0)} ms after SIGSTOP; ${late} fenced write(s) rejected after SIGCONT`,
  );
  assert.ok(late <= 1, `${late} fenced writes after waking`);
  // The old leader follows now.
  assert.equal(leader.leadingToken, undefined);
  assert.equal(next.leadingToken, 2);
});

test(
  'pg_terminate_backend of the leader session: it stops its component before the next term',
  T,
  async () => {
    const { leader } = await threeReplicas('terminate');
    const { granted } = await lockHolders(cluster, 'terminate');
    assert.equal(granted.length, 1);
    await cluster.admin('SELECT pg_terminate_backend($1)', [granted[0]]);
    await leader.waitFor('stopped', 1);
    await waitUntil(async () => (await termLog(cluster, 'terminate')).length === 2, 'term 2 logged', 10_000);
    const lost = leader
      .all('elector')
      .find((l) => (l.elector as { code?: string }).code === 'LEADER_SESSION_LOST');
    assert.ok(lost, 'the leader saw its session end');
    assertNoOverlap(await termLog(cluster, 'terminate'), true);
  },
);

test(
  'clean handoff: SIGTERM the leader, its component stops, then a follower leads at once',
  T,
  async (t) => {
    const { leader, followers } = await threeReplicas('handoff');
    leader.kill('SIGTERM');
    const exit = await leader.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    await waitUntil(() => leading(followers).length === 1, 'a follower leads', 5_000);
    const released =
      leader.find('elector') &&
      leader.all('elector').find((l) => (l.elector as { type: string }).type === 'leader.lost');
    const [next] = leading(followers) as [Replica];
    const took = (next.find('leading', 2)?.at ?? Infinity) - (released?.at ?? 0);
    t.diagnostic(`follower led ${took.toFixed(0)} ms after the release`);
    assert.ok(released && took < 1_000, `follower led ${took.toFixed(0)} ms after the release`);
    await next.waitFor('logged');
    assertNoOverlap(await termLog(cluster, 'handoff'), true);
  },
);

test('a wrong password: a coded warning without the password; other components keep running', T, async () => {
  const secret = 'N0t-The-Passw0rd';
  const r = replica('auth', 'r1', { url: cluster.url({ password: secret }) });
  await r.waitFor('steady', true, 30_000);
  await waitUntil(
    () =>
      r.all('elector').filter((l) => (l.elector as { code?: string }).code === 'LEADER_AUTH_FAILED').length >=
      2,
    'two auth warnings',
    20_000,
  );
  const warning = r.all('elector')[0]?.elector as { message: string };
  assert.match(
    warning.message,
    /refused the credentials \(password authentication failed for user "corral"\)/,
  );
  assert.match(warning.message, /postgres:\/\/\*\*\*@127\.0\.0\.1/);
  assert.equal(r.leadingToken, undefined);
  r.kill('SIGTERM');
  assert.deepEqual(await r.exited, { code: 0, signal: null });
  assert.ok(!r.output.includes(secret), 'the password leaked');
  assert.ok(r.output.length > 0);
});
