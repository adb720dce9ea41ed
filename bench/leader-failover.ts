/**
 * Leader failover on PostgreSQL, with the elector's default timings (lease 5 s, renew deadline
 * 4.5 s, renew every 1 s, retry 1 s). Replicas are separate processes running the Manager with a
 * PostgresElector and one leader component (test/fixtures/leader-replica.ts), against a throwaway
 * local cluster.
 *
 * - failover: `kill -9` of the leader → the follower's leader component is running.
 * - clean handoff: the leader's release (after its component stopped) → the follower's leader
 *   component is running; also SIGTERM → follower running, which includes the component's stop.
 * - for comparison, failover with `sessionLock: false` (lease row only).
 *
 * Times are taken in this process when each replica's line arrives on its stdout pipe.
 * Goals (issue 5): failover under 1 s, handoff under 200 ms.
 *
 *   node --import tsx bench/leader-failover.ts [runs=20] [lease-only runs=5]
 */
import { startPostgres, type PostgresCluster } from '../test/helpers/postgres.js';
import { createTermLog, killAll, lockHolders, Replica, waitUntil } from '../test/postgres/support.js';

const RUNS = Number(process.argv[2] ?? 20);
const LEASE_ONLY_RUNS = Number(process.argv[3] ?? 5);

let cluster: PostgresCluster | undefined;
const replicas: Replica[] = [];
let spawned = 0;

function spawnReplica(election: string, sessionLock: boolean): Replica {
  const r = new Replica({
    url: (cluster as PostgresCluster).url(),
    election,
    replica: `r${++spawned}`,
    sessionLock,
  });
  replicas.push(r);
  return r;
}

const alive = (): Replica[] =>
  replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
const leaderOf = (): Replica | undefined => alive().find((r) => r.leadingToken !== undefined);

/** Two live replicas: one leading, the other ready to take over (blocked on the lock, if used). */
async function pair(election: string, sessionLock: boolean): Promise<{ leader: Replica; follower: Replica }> {
  while (alive().length < 2) spawnReplica(election, sessionLock);
  await waitUntil(() => leaderOf() !== undefined, 'a leader', 60_000);
  const leader = leaderOf() as Replica;
  await leader.waitFor('logged', undefined, 30_000);
  const follower = alive().find((r) => r !== leader) as Replica;
  await follower.waitFor('steady', true, 60_000);
  if (sessionLock) {
    await waitUntil(
      async () => (await lockHolders(cluster as PostgresCluster, election)).waiting >= 1,
      'follower on the lock',
      30_000,
    );
  } else {
    // The follower has read the lease at least once: its elector started campaigning.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  }
  return { leader, follower };
}

async function failover(election: string, sessionLock: boolean): Promise<number> {
  const { leader, follower } = await pair(election, sessionLock);
  const token = leader.leadingToken as number;
  const killedAt = performance.now();
  leader.kill('SIGKILL');
  const line = await follower.waitFor('leading', token + 1, 30_000);
  await leader.exited;
  return line.at - killedAt;
}

async function handoff(election: string): Promise<{ afterRelease: number; afterSigterm: number }> {
  const { leader, follower } = await pair(election, true);
  const token = leader.leadingToken as number;
  const sentAt = performance.now();
  leader.kill('SIGTERM');
  const line = await follower.waitFor('leading', token + 1, 30_000);
  await leader.exited;
  const released = leader
    .all('elector')
    .find(
      (l) =>
        (l.elector as { type: string; term?: number }).type === 'leader.lost' &&
        (l.elector as { term: number }).term === token,
    );
  if (!released) throw new Error(`${leader.name} never reported releasing term ${token}`);
  return { afterRelease: line.at - released.at, afterSigterm: line.at - sentAt };
}

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]
      : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
  const fmt = (ms: number | undefined): string => `${(ms ?? NaN).toFixed(0)} ms`;
  return `| ${label} | ${values.length} | ${fmt(median)} | ${fmt(sorted.at(-1))} | ${fmt(sorted[0])} |`;
}

try {
  cluster = await startPostgres();
  await createTermLog(cluster);
  const failovers: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    failovers.push(await failover('bench-failover', true));
    process.stderr.write(`failover ${i + 1}/${RUNS}: ${failovers.at(-1)?.toFixed(0)} ms\n`);
  }
  await killAll(replicas.splice(0));
  const releases: number[] = [];
  const sigterms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { afterRelease, afterSigterm } = await handoff('bench-handoff');
    releases.push(afterRelease);
    sigterms.push(afterSigterm);
    process.stderr.write(
      `handoff ${i + 1}/${RUNS}: ${afterRelease.toFixed(0)} ms after release, ${afterSigterm.toFixed(0)} ms after SIGTERM\n`,
    );
  }
  await killAll(replicas.splice(0));
  const leaseOnly: number[] = [];
  for (let i = 0; i < LEASE_ONLY_RUNS; i++) {
    leaseOnly.push(await failover('bench-lease-only', false));
    process.stderr.write(
      `lease-only failover ${i + 1}/${LEASE_ONLY_RUNS}: ${leaseOnly.at(-1)?.toFixed(0)} ms\n`,
    );
  }
  console.log('| measurement | runs | median | worst | best |');
  console.log('|---|---|---|---|---|');
  console.log(summary('failover: kill -9 → follower leader component running', failovers));
  console.log(summary('clean handoff: release → follower leader component running', releases));
  console.log(summary('clean handoff: SIGTERM → follower leader component running', sigterms));
  if (leaseOnly.length > 0)
    console.log(summary('failover, `sessionLock: false`: kill -9 → follower running', leaseOnly));
} finally {
  await killAll(replicas);
  await cluster?.cleanup();
}
