// Shared by the leader tests and the failover benchmark: bounded polling, an in-process candidate
// driving a PostgresElector directly, replica fixture processes, and the term log checks.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Term } from '../../src/core/leadership.js';
import { PostgresElector, type PostgresElectorOptions } from '../../src/postgres/elector.js';
import type { CorralEvent } from '../../src/events.js';
import { isAlive } from '../../src/containment/liveness.js';
import type { PostgresCluster } from '../helpers/postgres.js';

/** Replicas' timings: grace (lease - renewDeadline) 500 ms; generous deadlines for a busy 2-core machine. */
export const TIMINGS = {
  lease: 2_000,
  renewDeadline: 1_500,
  renewInterval: 300,
  retry: 250,
  maxRetry: 2_000,
};

/** Polls `condition` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms: ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Fast timings for tests: the grace (lease - renewDeadline) is 500 ms. */
export const FAST = { lease: 1_500, renewDeadline: 1_000, renewInterval: 200, retry: 200, maxRetry: 1_000 };

/** One term as an in-process candidate saw it, on this process's monotonic clock. */
export interface SeenTerm {
  token: number;
  start: number;
  end?: number;
  /** The term signal's reason code, when it was aborted (`undefined` when the lead resigned). */
  reason?: string | undefined;
}

/**
 * A PostgresElector run directly: `lead` records the term and holds it until the term signal
 * aborts or the test calls `resign()`, then (optionally) takes `stopDelay` ms to "stop".
 */
export class Candidate {
  readonly events: CorralEvent[] = [];
  readonly terms: SeenTerm[] = [];
  readonly elector: PostgresElector;
  readonly #controller = new AbortController();
  readonly #stopDelay: number;
  #resign: (() => void) | undefined;
  #done: Promise<void> | undefined;
  failLead: Error | undefined;

  constructor(options: Omit<PostgresElectorOptions, 'onEvent'> & { stopDelay?: number }) {
    const { stopDelay, ...electorOptions } = options;
    this.#stopDelay = stopDelay ?? 0;
    this.elector = new PostgresElector({ ...electorOptions, onEvent: (event) => this.events.push(event) });
  }

  start(): this {
    this.#done = this.elector.run(this.#controller.signal, (term) => this.#lead(term));
    return this;
  }

  /** The run's promise (rejects if the elector's run rejects). */
  get done(): Promise<void> {
    assert.ok(this.#done, 'start() first');
    return this.#done;
  }

  get leading(): boolean {
    const last = this.terms.at(-1);
    return last !== undefined && last.end === undefined;
  }

  get token(): number | undefined {
    return this.leading ? this.terms.at(-1)?.token : undefined;
  }

  warnings(code?: string): Extract<CorralEvent, { type: 'warning' }>[] {
    return this.events.filter(
      (e): e is Extract<CorralEvent, { type: 'warning' }> =>
        e.type === 'warning' && (code === undefined || e.code === code),
    );
  }

  /** Ends the current term from the lead's side, as a manager whose leader components finished would. */
  resign(): void {
    this.#resign?.();
  }

  /** Aborts the run and waits for it. */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#done?.catch(() => undefined);
  }

  async #lead(term: Term): Promise<void> {
    const seen: SeenTerm = { token: term.token, start: performance.now() };
    this.terms.push(seen);
    await new Promise<void>((resolve) => {
      this.#resign = resolve;
      void aborted(term.signal).then(resolve);
    });
    this.#resign = undefined;
    if (term.signal.aborted) seen.reason = (term.signal.reason as { code?: string } | undefined)?.code;
    if (this.#stopDelay > 0) await new Promise((resolve) => setTimeout(resolve, this.#stopDelay));
    seen.end = performance.now();
    if (this.failLead) throw this.failLead;
  }
}

/** Asserts that terms seen on one clock never overlap and that tokens grow with time. */
export function assertSequential(terms: readonly SeenTerm[]): void {
  const sorted = [...terms].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as SeenTerm;
    const current = sorted[i] as SeenTerm;
    assert.ok(current.token > previous.token, `token ${current.token} after ${previous.token}`);
    assert.ok(previous.end !== undefined, `term ${previous.token} still open when ${current.token} began`);
    assert.ok(
      previous.end <= current.start,
      `term ${previous.token} ended at ${previous.end.toFixed(1)} after term ${current.token} began at ${current.start.toFixed(1)}`,
    );
  }
}

/** The lease row as the tests read it (as superuser). */
export async function leaseRow(
  cluster: PostgresCluster,
  name: string,
  table = 'corral_leader',
): Promise<{ token: number; holder: string | null; holder_locked: boolean; renewed_at: Date } | undefined> {
  const [row] = await cluster.admin<{
    token: string;
    holder: string | null;
    holder_locked: boolean;
    renewed_at: Date;
  }>(`SELECT token::text, holder, holder_locked, renewed_at FROM ${table} WHERE name = $1`, [name]);
  return row && { ...row, token: Number(row.token) };
}

/** The backends of an election holding its advisory lock, and how many wait for it. */
export async function lockHolders(
  cluster: PostgresCluster,
  election: string,
): Promise<{ granted: number[]; waiting: number }> {
  const rows = await cluster.admin<{ pid: number; granted: boolean }>(
    `SELECT l.pid, l.granted FROM pg_locks l JOIN pg_stat_activity a USING (pid)
     WHERE l.locktype = 'advisory' AND a.application_name = $1`,
    [`corral-leader ${election}`],
  );
  return {
    granted: rows.filter((r) => r.granted).map((r) => r.pid),
    waiting: rows.filter((r) => !r.granted).length,
  };
}

// ---- replica processes ----------------------------------------------------------------------

/** The replica fixture's configuration (see test/fixtures/leader-replica.ts). */
export interface ReplicaConfig {
  url: string;
  election: string;
  replica: string;
  timings?: Partial<
    Pick<PostgresElectorOptions, 'lease' | 'renewDeadline' | 'renewInterval' | 'retry' | 'maxRetry'>
  >;
  /** ms between the leader component's fenced work writes. @default 100 */
  workEvery?: number;
  /** Passed to the elector. @default true */
  sessionLock?: boolean;
}

/** What a replica printed: one JSON object per line. */
export type ReplicaLine = Record<string, unknown> & { at: number };

/** A replica fixture process; `lines` collects its stdout, stamped with this process's clock. */
export class Replica {
  readonly child: ChildProcess;
  readonly lines: ReplicaLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly config: ReplicaConfig) {
    const script = fileURLToPath(new URL('../fixtures/leader-replica.ts', import.meta.url));
    this.child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = this.child;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const at = performance.now();
      try {
        this.lines.push({ ...(JSON.parse(line) as Record<string, unknown>), at });
      } catch {
        this.lines.push({ raw: line, at });
      }
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      this.stderr.push(line),
    );
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get name(): string {
    return this.config.replica;
  }

  /** The first line with this key (and value, if given), if printed yet. */
  find(key: string, value?: unknown): ReplicaLine | undefined {
    return this.lines.find((l) => key in l && (value === undefined || l[key] === value));
  }

  all(key: string): ReplicaLine[] {
    return this.lines.filter((l) => key in l);
  }

  /** Leading now: printed `leading` for a token and not yet `stopped` for it. */
  get leadingToken(): number | undefined {
    const started = this.all('leading').map((l) => l.leading as number);
    const stopped = new Set(this.all('stopped').map((l) => l.stopped as number));
    return started.filter((t) => !stopped.has(t)).at(-1);
  }

  async waitFor(key: string, value?: unknown, timeoutMs = 20_000): Promise<ReplicaLine> {
    await waitUntil(
      () => this.find(key, value) !== undefined,
      () => `${this.name} to print ${key}`,
      timeoutMs,
    );
    return this.find(key, value) as ReplicaLine;
  }

  /** Everything it wrote, for checks that a secret never appears. */
  get output(): string {
    return [...this.lines.map((l) => JSON.stringify(l)), ...this.stderr].join('\n');
  }

  kill(signal: NodeJS.Signals): void {
    if (isAlive(this.pid)) process.kill(this.pid, signal);
  }
}

export { isAlive };

/** SIGKILLs (after SIGCONT, in case it is stopped) every replica still alive and waits for them. */
export async function killAll(replicas: readonly Replica[]): Promise<void> {
  for (const replica of replicas) {
    if (!isAlive(replica.pid)) continue;
    replica.kill('SIGCONT');
    replica.kill('SIGKILL');
  }
  await waitUntil(() => replicas.every((r) => !isAlive(r.pid)), 'replicas to exit', 10_000);
}

// ---- the term log -----------------------------------------------------------------------------

/** Written by the replica fixture's leader component; every time comes from the database clock. */
export const TERM_LOG_DDL = `CREATE TABLE IF NOT EXISTS corral_test_terms (
  election text NOT NULL,
  token bigint NOT NULL,
  replica text NOT NULL,
  started_at timestamptz NOT NULL,
  last_work_at timestamptz NOT NULL,
  works integer NOT NULL DEFAULT 0,
  stopped_at timestamptz,
  PRIMARY KEY (election, token)
)`;

export async function createTermLog(cluster: PostgresCluster): Promise<void> {
  await cluster.admin(TERM_LOG_DDL);
  await cluster.admin(`GRANT SELECT, INSERT, UPDATE ON corral_test_terms TO corral`);
}

export interface LoggedTerm {
  token: number;
  replica: string;
  started_at: Date;
  last_work_at: Date;
  works: number;
  stopped_at: Date | null;
}

export async function termLog(cluster: PostgresCluster, election: string): Promise<LoggedTerm[]> {
  const rows = await cluster.admin<LoggedTerm & { token: string }>(
    `SELECT token::text, replica, started_at, last_work_at, works, stopped_at
     FROM corral_test_terms WHERE election = $1 ORDER BY token`,
    [election],
  );
  return rows.map((r) => ({ ...r, token: Number(r.token) }));
}

/**
 * The database-clock check that terms never overlap: ordered by token, each term started after
 * the previous one's last accepted (fenced) work, and, when `stops` is set, after it stopped.
 */
export function assertNoOverlap(terms: readonly LoggedTerm[], stops: boolean): void {
  for (let i = 1; i < terms.length; i++) {
    const previous = terms[i - 1] as LoggedTerm;
    const current = terms[i] as LoggedTerm;
    assert.ok(current.token > previous.token);
    assert.ok(
      current.started_at >= previous.started_at,
      `term ${current.token} started before ${previous.token}`,
    );
    assert.ok(
      previous.last_work_at < current.started_at,
      `term ${previous.token} (${previous.replica}) still worked at ${previous.last_work_at.toISOString()} after term ${current.token} started at ${current.started_at.toISOString()}`,
    );
    if (stops) {
      assert.ok(previous.stopped_at, `term ${previous.token} (${previous.replica}) has no stop time`);
      assert.ok(
        previous.stopped_at < current.started_at,
        `term ${previous.token} (${previous.replica}) stopped at ${previous.stopped_at.toISOString()}, after term ${current.token} started at ${current.started_at.toISOString()}`,
      );
    }
  }
}
