// The PostgreSQL elector driven directly (run(signal, lead)), against a real throwaway cluster.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import { LeaderConfigError } from '../../src/postgres/errors.js';
import { PostgresElector } from '../../src/postgres/elector.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import {
  assertSequential,
  Candidate,
  FAST,
  leaseRow,
  lockHolders,
  waitUntil,
  type SeenTerm,
} from './support.js';

const T = { timeout: 60_000 };
let cluster: PostgresCluster;
const candidates: Candidate[] = [];

before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await Promise.all(candidates.map((c) => c.stop()));
  await cluster.cleanup();
});

function candidate(
  name: string,
  options: Partial<ConstructorParameters<typeof Candidate>[0]> = {},
): Candidate {
  const c = new Candidate({ url: cluster.url(), name, ...FAST, ...options });
  candidates.push(c);
  return c.start();
}

const leaderOf = (cs: readonly Candidate[]): Candidate[] => cs.filter((c) => c.leading);

test('fencing tokens grow strictly across terms and replicas and are kept in the database', T, async () => {
  const cs = [candidate('tokens'), candidate('tokens'), candidate('tokens')];
  const seen: number[] = [];
  for (let round = 0; round < 8; round++) {
    await waitUntil(() => leaderOf(cs).length === 1, 'a leader');
    const [leader] = leaderOf(cs) as [Candidate];
    seen.push(leader.token as number);
    const row = await leaseRow(cluster, 'tokens');
    assert.equal(row?.token, leader.token, 'the current token is the one in the lease row');
    assert.equal(row?.holder, leader.elector.holder);
    // A resigned leader campaigns again at once, so the same replica may win the next term too.
    leader.resign();
    await waitUntil(
      () => cs.some((c) => c.token !== undefined && c.token > (seen.at(-1) as number)),
      'next term',
    );
  }
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
  );
  assert.equal(new Set(seen).size, seen.length, `tokens ${seen.join(',')} strictly increasing`);
  assertSequential(cs.flatMap((c) => c.terms));
  await Promise.all(cs.map((c) => c.stop()));
  // A new elector instance continues from the database's counter, not from 1.
  const late = candidate('tokens');
  await waitUntil(() => late.leading, 'late leader');
  assert.ok((late.token as number) > (seen.at(-1) as number));
  await late.stop();
});

test('independent election names in one database each have their own leader and tokens', T, async () => {
  const a = [candidate('alpha'), candidate('alpha')];
  const b = [candidate('beta'), candidate('beta')];
  await waitUntil(() => leaderOf(a).length === 1 && leaderOf(b).length === 1, 'a leader in each election');
  const [leaderA] = leaderOf(a) as [Candidate];
  const [leaderB] = leaderOf(b) as [Candidate];
  assert.equal(leaderA.token, 1);
  assert.equal(leaderB.token, 1);
  // Ending alpha's term moves alpha only.
  await leaderA.stop();
  await waitUntil(() => leaderOf(a).length === 1, 'alpha failover');
  assert.equal(leaderOf(a)[0]?.token, 2);
  assert.equal(leaderB.leading, true);
  assert.equal(leaderB.token, 1);
  assert.equal((await leaseRow(cluster, 'beta'))?.token, 1);
  await Promise.all([...a, ...b].map((c) => c.stop()));
});

test('at most one of several in-process candidates leads at any moment', T, async () => {
  // Each term lasts a random moment, then the leader resigns; its components take 30 ms to stop.
  const cs = [0, 1, 2, 3].map(() => candidate('churn', { stopDelay: 30 }));
  let changes = 0;
  const deadline = performance.now() + 40_000;
  while (changes < 12 && performance.now() < deadline) {
    await waitUntil(() => leaderOf(cs).length === 1, 'a leader');
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
    assert.ok(leaderOf(cs).length <= 1, 'two leaders at once');
    leaderOf(cs)[0]?.resign();
    changes++;
  }
  assert.equal(changes, 12);
  await Promise.all(cs.map((c) => c.stop()));
  assertSequential(cs.flatMap((c) => c.terms));
});

test('a clean stop releases after lead settled and a follower takes over at once', T, async () => {
  const first = candidate('handoff', { stopDelay: 300 });
  await waitUntil(() => first.leading, 'first leads');
  const second = candidate('handoff');
  await waitUntil(
    async () => (await lockHolders(cluster, 'handoff')).waiting >= 1,
    'second waits on the lock',
  );
  const stopping = first.stop();
  await waitUntil(() => second.leading, 'second leads', 5_000);
  await stopping;
  const [firstTerm] = first.terms;
  const [secondTerm] = second.terms;
  assert.ok(firstTerm?.end !== undefined && secondTerm);
  // The 300 ms the components took to stop were spent before the release, not after it.
  assert.ok(secondTerm.start >= firstTerm.end, 'second began only after first finished');
  assert.ok(
    secondTerm.start - firstTerm.end < 1_000,
    `handoff took ${(secondTerm.start - firstTerm.end).toFixed(0)} ms`,
  );
  assert.equal(secondTerm.token, firstTerm.token + 1);
  await second.stop();
});

test(
  'pg_terminate_backend of the leader: it steps down at once and the next term starts after it stopped',
  T,
  async () => {
    const first = candidate('terminate', { stopDelay: 200 });
    await waitUntil(() => first.leading, 'first leads');
    const second = candidate('terminate');
    await waitUntil(
      async () => (await lockHolders(cluster, 'terminate')).waiting >= 1,
      'second waits on the lock',
    );
    const { granted } = await lockHolders(cluster, 'terminate');
    assert.equal(granted.length, 1);
    await cluster.admin('SELECT pg_terminate_backend($1)', [granted[0]]);
    const all = (): SeenTerm[] => [...first.terms, ...second.terms];
    await waitUntil(() => all().some((t) => t.token === 2), 'a second term');
    const [lost] = first.terms;
    assert.equal(lost?.reason, 'LEADER_SESSION_LOST');
    assert.equal(first.warnings('LEADER_SESSION_LOST').length, 1);
    // Either the follower took over after the grace, or the old leader, having stopped its
    // components and released on a new session, won again; in both cases after it stopped.
    assertSequential(all());
    await Promise.all([first.stop(), second.stop()]);
  },
);

test(
  'negative control: with a 1 ms grace, a terminated leader still stopping overlaps the next term',
  T,
  async () => {
    // Same scenario as above, but renewDeadline = lease - 1: the follower does not wait for the old
    // leader's components (300 ms to stop) before taking over. This is what the grace prevents.
    const tight = { lease: 1_500, renewDeadline: 1_499, renewInterval: 200 };
    const first = candidate('no-grace', { ...tight, stopDelay: 300 });
    await waitUntil(() => first.leading, 'first leads');
    const second = candidate('no-grace', tight);
    await waitUntil(
      async () => (await lockHolders(cluster, 'no-grace')).waiting >= 1,
      'second waits on the lock',
    );
    const { granted } = await lockHolders(cluster, 'no-grace');
    await cluster.admin('SELECT pg_terminate_backend($1)', [granted[0]]);
    await waitUntil(() => second.leading, 'second leads');
    await waitUntil(() => first.terms[0]?.end !== undefined, 'first stopped');
    const [old] = first.terms as [SeenTerm];
    const [next] = second.terms as [SeenTerm];
    assert.ok(next.start < (old.end as number), 'expected the terms to overlap without a grace');
    assert.throws(() => assertSequential([old, next]));
    await Promise.all([first.stop(), second.stop()]);
  },
);

test('a leader whose clock jumps past its deadline steps down without renewing', T, async () => {
  const clock = new JumpClock();
  const leader = candidate('stall', { clock });
  await waitUntil(() => leader.leading, 'leads');
  // Jump right after a renewal committed, so that none is in flight.
  const before = (await leaseRow(cluster, 'stall'))?.renewed_at.getTime();
  await waitUntil(
    async () => (await leaseRow(cluster, 'stall'))?.renewed_at.getTime() !== before,
    'a renewal',
  );
  const renewedAt = (await leaseRow(cluster, 'stall'))?.renewed_at.getTime();
  clock.jump(5_000);
  // It may win again at once (nobody else runs); the first term's end is what counts.
  await waitUntil(() => leader.terms[0]?.end !== undefined, 'steps down');
  assert.equal(leader.terms[0]?.reason, 'LEADER_DEADLINE_PASSED');
  assert.match(leader.warnings('LEADER_DEADLINE_PASSED')[0]?.message ?? '', /last renewal sent 5\.\ds ago/);
  const row = await leaseRow(cluster, 'stall');
  // Either still the old renewal (then released), or already the next term: never a late renewal.
  assert.ok(row?.token !== 1 || row.renewed_at.getTime() === renewedAt, 'renewed after its deadline');
  await leader.stop();
});

test(
  'lease-only mode (no session lock) elects, fails over by expiry and takes no advisory locks',
  T,
  async () => {
    const options = { sessionLock: false, table: 'lease_only' };
    // A leader whose components take far longer to stop than the grace: nothing releases its lease.
    const first = candidate('lease-only', { ...options, stopDelay: 4_000 });
    await waitUntil(() => first.leading, 'first leads');
    const second = candidate('lease-only', options);
    assert.deepEqual(await lockHolders(cluster, 'lease-only'), { granted: [], waiting: 0 });
    const [backend] = await cluster.admin<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'corral-leader lease-only' ORDER BY backend_start LIMIT 1`,
    );
    const cutAt = performance.now();
    await cluster.admin('SELECT pg_terminate_backend($1)', [backend?.pid]);
    await waitUntil(() => second.leading, 'second leads', 10_000);
    assert.equal(first.terms[0]?.reason, 'LEADER_SESSION_LOST');
    // No lock told the follower that the session ended: it waited for the lease (1.5 s from the last
    // renewal, at most 200 ms before the cut) to expire by the database's clock.
    const waited = (second.terms[0]?.start ?? 0) - cutAt;
    assert.ok(waited > 1_000, `took over ${waited.toFixed(0)} ms after the cut, before expiry`);
    assert.deepEqual(await lockHolders(cluster, 'lease-only'), { granted: [], waiting: 0 });
    await Promise.all([first.stop(), second.stop()]);
  },
);

test('when lead rejects, run releases the term and rejects with that error', T, async () => {
  const first = candidate('lead-fails');
  await waitUntil(() => first.leading, 'first leads');
  const second = candidate('lead-fails');
  await waitUntil(async () => (await lockHolders(cluster, 'lead-fails')).waiting >= 1, 'second waits');
  first.failLead = new Error('leader component broke');
  first.resign();
  await assert.rejects(first.done, /leader component broke/);
  await waitUntil(() => second.leading, 'second leads', 3_000);
  await second.stop();
});

test(
  'a wrong password: coded warnings with backoff, never the password, and run does not reject',
  T,
  async () => {
    const secret = 'Wr0ng-S3cret-pa55';
    const events: string[] = [];
    const elector = new PostgresElector({
      url: cluster.url({ password: secret }),
      name: 'auth',
      ...FAST,
      onEvent: (e) => events.push(JSON.stringify(e)),
    });
    const controller = new AbortController();
    let settled = false;
    const running = elector
      .run(controller.signal, () => Promise.reject(new Error('never elected')))
      .finally(() => {
        settled = true;
      });
    await waitUntil(() => events.length >= 3, 'three warnings');
    assert.equal(settled, false, 'run keeps retrying');
    for (const event of events) {
      assert.match(event, /"code":"LEADER_AUTH_FAILED"/);
      assert.match(event, /password authentication failed for user \\"corral\\"/);
      assert.match(event, /postgres:\/\/\*\*\*@127\.0\.0\.1/);
    }
    const everything = [...events, inspect(elector, { depth: 10, showHidden: true }), elector.target].join(
      '\n',
    );
    assert.ok(!everything.includes(secret), 'the password leaked');
    assert.ok(!everything.includes(encodeURIComponent(secret)), 'the encoded password leaked');
    controller.abort();
    await running;
  },
);

test(
  'database unreachable at start: coded warnings with growing delays, and run does not reject',
  T,
  async () => {
    // A port nobody listens on stands in for a database that is down.
    const url = cluster.url().replace(`:${cluster.port}/`, ':1/');
    const events: { code: string; message: string }[] = [];
    const elector = new PostgresElector({
      url,
      name: 'down',
      ...FAST,
      onEvent: (e) => e.type === 'warning' && events.push(e),
    });
    const controller = new AbortController();
    const running = elector.run(controller.signal, () => Promise.resolve());
    await waitUntil(() => events.length >= 3, 'three warnings');
    assert.ok(events.every((e) => e.code === 'LEADER_DB_UNAVAILABLE'));
    const delays = events.map((e) =>
      Number(
        /retrying in (\d+)ms/.exec(e.message)?.[1] ?? /retrying in ([\d.]+)s/.exec(e.message)?.[1] ?? NaN,
      ),
    );
    assert.ok(
      delays.every((d) => d > 0),
      `delays ${delays.join(',')}`,
    );
    assert.ok((delays[2] as number) > (delays[0] as number), `backoff grows: ${delays.join(',')}`);
    controller.abort();
    await running;
  },
);

test('bad options fail in the constructor, naming the option and never the connection string', () => {
  const url = 'postgres://u:topsecret@127.0.0.1:1/db';
  assert.throws(
    () => new PostgresElector({ url, name: 'x', lease: 1_000, renewDeadline: 1_000 }),
    (e: unknown) =>
      e instanceof LeaderConfigError && e.option === 'renewDeadline' && !e.message.includes('topsecret'),
  );
  assert.throws(
    () => new PostgresElector({ url, name: 'x', renewDeadline: 800, renewInterval: 900, lease: 1_000 }),
    (e: unknown) => e instanceof LeaderConfigError && e.option === 'renewInterval',
  );
  assert.throws(
    () => new PostgresElector({ url: 'mysql://u:topsecret@h/db', name: 'x' }),
    (e: unknown) =>
      e instanceof LeaderConfigError && e.option === 'url' && /mysql:\/\/\*\*\*@h\/db/.test(e.message),
  );
  assert.throws(
    () => new PostgresElector({ url: 'not a url topsecret', name: 'x' }),
    (e: unknown) => e instanceof LeaderConfigError && !e.message.includes('topsecret'),
  );
  assert.throws(
    () => new PostgresElector({ url, name: 'x', table: 'x; DROP TABLE y' }),
    (e: unknown) => e instanceof LeaderConfigError && e.option === 'table',
  );
  assert.equal(new PostgresElector({ url, name: 'x' }).target, 'postgres://***@127.0.0.1:1/db');
});

/** The system clock plus an offset the test can jump, as a process that stalled would see it. */
class JumpClock implements Clock {
  #offset = 0;
  now(): number {
    return systemClock.now() + this.#offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  jump(ms: number): void {
    this.#offset += ms;
  }
}
