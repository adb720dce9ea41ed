// The database going away: down when the replicas start, and restarted under a running leader.
// Separate OS processes running Corral's Manager (test/fixtures/leader-replica.ts).
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import {
  assertNoOverlap,
  createTermLog,
  isAlive,
  killAll,
  Replica,
  termLog,
  TIMINGS,
  waitUntil,
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
  await cluster.start(); // a test that failed half-way may have left it stopped
});
after(async () => {
  await killAll(started);
  await cluster.cleanup();
});

function replicas(election: string): Replica[] {
  const rs = ['r1', 'r2', 'r3'].map(
    (name) => new Replica({ url: cluster.url(), election, replica: name, timings: TIMINGS }),
  );
  started.push(...rs);
  return rs;
}

const leading = (rs: readonly Replica[]): Replica[] => rs.filter((r) => r.leadingToken !== undefined);
const warnings = (r: Replica, code: string): number =>
  r.all('elector').filter((l) => (l.elector as { code?: string }).code === code).length;
/** Whether the manager ever asked the ordinary component to stop. */
const steadyStopped = (r: Replica): boolean =>
  r.all('event').some((l) => {
    const event = l.event as { type: string; component?: string };
    return event.type === 'component.stopping' && event.component === 'steady';
  });

test(
  'database down at start: replicas retry with backoff, run the rest, and elect one once it is up',
  T,
  async () => {
    await cluster.stop();
    const rs = replicas('late');
    await Promise.all(rs.map((r) => r.waitFor('steady', true, 30_000)));
    await waitUntil(
      () => rs.every((r) => warnings(r, 'LEADER_DB_UNAVAILABLE') >= 2),
      'two warnings each',
      20_000,
    );
    assert.equal(leading(rs).length, 0);
    assert.ok(
      rs.every((r) => isAlive(r.pid)),
      'a replica gave up',
    );
    await cluster.start();
    await waitUntil(() => leading(rs).length === 1, 'one leader once the database is up', 20_000);
    const [leader] = leading(rs) as [Replica];
    await leader.waitFor('logged');
    assert.equal(leading(rs).length, 1);
    assert.ok(!rs.some(steadyStopped), 'the ordinary component was stopped');
    assertNoOverlap(await termLog(cluster, 'late'), true);
  },
);

test(
  'database restart under a leader: it steps down, one replica leads again, nothing else stops',
  T,
  async () => {
    const rs = replicas('restart');
    await Promise.all(rs.map((r) => r.waitFor('steady', true, 30_000)));
    await waitUntil(() => leading(rs).length === 1, 'one leader', 20_000);
    const [leader] = leading(rs) as [Replica];
    await leader.waitFor('logged');
    await cluster.restart();
    await leader.waitFor('stopped', 1, 10_000);
    assert.ok(warnings(leader, 'LEADER_SESSION_LOST') >= 1, 'the leader saw its session end');
    await waitUntil(async () => (await termLog(cluster, 'restart')).length >= 2, 'a new term logged', 20_000);
    await waitUntil(() => leading(rs).length === 1, 'one leader', 10_000);
    const log = await termLog(cluster, 'restart');
    // Term 1's stop could not be logged while the database was down, so only its work is compared.
    assertNoOverlap(log, false);
    assert.ok(
      rs.every((r) => isAlive(r.pid)),
      'a replica exited',
    );
    assert.ok(!rs.some(steadyStopped), 'the ordinary component was stopped');
  },
);
