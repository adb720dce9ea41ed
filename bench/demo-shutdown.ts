/**
 * Demo shutdown: `corral run -f examples/demo/corral.yaml` (an app behind a proxy whose drain has
 * `min: 1s, timeout: 30s`), ports chosen free and passed through READY_PORT, METRICS_PORT,
 * APP_PORT, PROXY_PORT and PROXY_ADMIN_PORT. The time from SIGTERM to Corral's exit, in two cases:
 *   - idle: goal drain `min` (1 s) + at most 200 ms;
 *   - one request in flight, `GET /slow?ms=2000` through the proxy, started right before SIGTERM
 *     (once the proxy counts its connection): goal about 2 s, and the request must succeed.
 * kuma-dp's fixed drain sleeps its whole drain time (30 s in this file) in both cases; that is
 * the comparison printed. Each run starts a fresh Corral, waits for GET /ready to answer 200, and
 * after the exit checks that no process of its tree is left (the rest would be SIGKILLed by pid
 * and reported). The two cases alternate; median and worst of `runs` each.
 *
 *   npm run build && node --import tsx bench/demo-shutdown.ts [runs=10]
 *
 * CORRAL_BIN=/path/to/bin/corral.js measures another build (default: this repository's bin/corral.js).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listProcesses } from '../src/containment/liveness.js';
import { freePort, killAll, live, pause, started, tree } from './support.js';

const RUNS = Number(process.argv[2] ?? 10);
const root = fileURLToPath(new URL('..', import.meta.url));
const CORRAL_BIN = process.env.CORRAL_BIN ?? join(root, 'bin/corral.js');
const STACK = join(root, 'examples/demo/corral.yaml');
const DRAIN_MIN_MS = 1000;
const KUMA_DRAIN_MS = 30_000;
const REQUEST_MS = 2000;
const START_TIMEOUT_MS = 60_000;
/** Corral's own shutdown budget is 30 s; past 45 s the run is stuck and gets SIGKILLed. */
const STOP_CAP_MS = 45_000;

interface Run {
  readonly inFlight: boolean;
  /** SIGTERM to Corral's exit. */
  readonly stopMs: number;
  /** The request's start to SIGTERM, and its end to Corral's exit (in-flight runs). */
  readonly requestLeadMs?: number;
  readonly afterRequestMs?: number;
  /** From Corral's records: the proxy's drain, and `stop.summary` to the exit. */
  readonly drainMs: number;
  readonly summaryToExitMs: number;
}

function get(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await pause(20);
  }
}

/** `time` of the first record with `event` (and `component`), from Corral's JSON log. */
function recordTime(log: string, event: string, component?: string): number {
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as { time: number; event?: string; component?: string };
    if (r.event === event && (component === undefined || r.component === component)) return r.time;
  }
  return NaN;
}

async function runOnce(inFlight: boolean): Promise<Run> {
  const [ready, metrics, app, proxy, admin] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const env = {
    ...process.env,
    READY_PORT: String(ready),
    METRICS_PORT: String(metrics),
    APP_PORT: String(app),
    PROXY_PORT: String(proxy),
    PROXY_ADMIN_PORT: String(admin),
  };
  const corral = spawn(process.execPath, [CORRAL_BIN, 'run', '-f', STACK, '--log-format', 'json'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = corral.pid;
  if (pid === undefined) throw new Error('corral did not start');
  started.add(pid);
  let log = '';
  let stderr = '';
  corral.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  corral.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  let exitCode: number | null | undefined;
  const exited = once(corral, 'exit').then(([code]) => {
    exitCode = code as number | null;
    return { at: performance.now(), wall: Date.now() };
  });
  const seen = new Set<number>();
  const remember = (): void => {
    for (const p of tree(pid).filter(live)) {
      seen.add(p.pid);
      started.add(p.pid);
    }
  };
  try {
    await waitFor(
      'GET /ready to answer 200',
      async () => {
        if (exitCode !== undefined) throw new Error(`corral exited during start-up (${exitCode}): ${stderr}`);
        remember();
        return (await get(`http://127.0.0.1:${ready}/ready`, 2000)).status === 200;
      },
      START_TIMEOUT_MS,
    );
    remember();

    let request: Promise<{ end: number; status: number; body: string }> | undefined;
    let requestStart = NaN;
    if (inFlight) {
      requestStart = performance.now();
      request = get(`http://127.0.0.1:${proxy}/slow?ms=${REQUEST_MS}`, 30_000).then((r) => ({
        ...r,
        end: performance.now(),
      }));
      request.catch(() => undefined); // Awaited below; an early failure must not go unhandled.
      await waitFor(
        'the proxy to count the request',
        async () => (await get(`http://127.0.0.1:${admin}/connections`, 2000)).body.trim() === '1',
        10_000,
      );
    }

    const sent = performance.now();
    corral.kill('SIGTERM');
    const exit = await Promise.race([exited, pause(STOP_CAP_MS).then(() => undefined)]);
    if (exit === undefined) throw new Error(`corral still running ${STOP_CAP_MS / 1000} s after SIGTERM`);
    if (exitCode !== 0) throw new Error(`corral exited with ${String(exitCode)}: ${stderr}`);

    let requestFacts = {};
    if (request) {
      const response = await request;
      if (response.status !== 200 || !response.body.startsWith('hello from the app')) {
        throw new Error(`the in-flight request answered ${response.status}: ${response.body}`);
      }
      requestFacts = { requestLeadMs: sent - requestStart, afterRequestMs: exit.at - response.end };
    }
    const drainStarted = recordTime(log, 'component.draining', 'proxy');
    const drained = recordTime(log, 'component.drained', 'proxy');
    return {
      inFlight,
      stopMs: exit.at - sent,
      drainMs: drained - drainStarted,
      summaryToExitMs: exit.wall - recordTime(log, 'stop.summary'),
      ...requestFacts,
    };
  } finally {
    remember();
    if (exitCode === undefined) {
      killAll([pid, ...seen]);
      await exited;
    }
    const goneBy = performance.now() + 10_000;
    const alive = (): number[] => {
      const all = new Map(listProcesses().map((p) => [p.pid, p]));
      return [...seen].filter((p) => {
        const stat = all.get(p);
        return stat !== undefined && live(stat);
      });
    };
    while (alive().length > 0 && performance.now() < goneBy) await pause(20);
    const left = alive();
    if (left.length > 0) console.log(`  ! ${left.length} process(es) left behind: SIGKILL`);
    killAll(left);
    for (const p of [pid, ...seen]) started.delete(p);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const ms = (x: number): string => `${x.toFixed(0)} ms`;

console.log(
  `demo shutdown: ${RUNS} runs per case; corral: ${CORRAL_BIN}; node ${process.version}; load ${load()}`,
);
const runs: Run[] = [];
for (let i = 0; i < RUNS; i++) {
  for (const inFlight of i % 2 ? [true, false] : [false, true]) {
    const run = await runOnce(inFlight);
    runs.push(run);
    const extra =
      run.afterRequestMs === undefined
        ? ''
        : `, request started ${ms(run.requestLeadMs ?? NaN)} before SIGTERM, ended ${ms(run.afterRequestMs)} before the exit`;
    console.log(
      `  ${inFlight ? 'in flight' : 'idle     '} ${ms(run.stopMs)} (drain ${ms(run.drainMs)}${extra})`,
    );
  }
}

console.log('\nSIGTERM → exit:');
for (const inFlight of [false, true]) {
  const these = runs.filter((r) => r.inFlight === inFlight);
  const stop = these.map((r) => r.stopMs);
  const goal = inFlight ? REQUEST_MS : DRAIN_MIN_MS + 200;
  const verdict = inFlight
    ? `goal about ${REQUEST_MS / 1000} s`
    : `goal ≤ ${goal} ms: ${Math.max(...stop) <= goal ? 'MET' : median(stop) <= goal ? 'MET at the median, not in the worst run' : 'MISSED'}`;
  console.log(
    `  ${inFlight ? 'one 2 s request in flight' : 'idle'}: median ${ms(median(stop))}, worst ${ms(Math.max(...stop))}, best ${ms(Math.min(...stop))} (${verdict})`,
  );
  console.log(`    proxy drain (Corral's records): median ${ms(median(these.map((r) => r.drainMs)))}`);
  console.log(`    stop.summary → exit: median ${ms(median(these.map((r) => r.summaryToExitMs)))}`);
  if (inFlight) {
    const after = these.map((r) => r.afterRequestMs ?? NaN);
    const lead = these.map((r) => r.requestLeadMs ?? NaN);
    console.log(
      `    request start → SIGTERM: median ${ms(median(lead))}; request end → exit: median ${ms(median(after))}, worst ${ms(Math.max(...after))}`,
    );
    console.log(`    every in-flight request answered 200 (${these.length}/${these.length})`);
  }
  console.log(
    `    kuma-dp (fixed drain, ${KUMA_DRAIN_MS / 1000} s): ${(KUMA_DRAIN_MS / median(stop)).toFixed(1)}x Corral's median`,
  );
}
console.log(`load average at the end: ${load()}`);
