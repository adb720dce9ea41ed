/**
 * Envoy drain latency through the real CLI: `corral run` with a `kind: envoy` component whose
 * binary is the Envoy test double (test/fixtures/envoy-double), `drain: { min: 1s, timeout: 30s }`.
 * Measures the time from SIGTERM to Corral's exit, in two cases:
 *   - idle: goal drain.min + at most 200 ms (kuma-dp sleeps its whole drain time, 30 s by default);
 *   - one connection held 3 s (a request in flight): goal 3 s + at most 300 ms after it started,
 *     and the request must succeed. Also printed: the time from the request's end to Corral's exit.
 * Prints min / median / max over RUNS runs of each, with a breakdown from Corral's own records.
 *
 *   npm run build && CORRAL_BIN=bin/corral.js node --import tsx bench/envoy-drain.ts [runs]
 *
 * Without CORRAL_BIN the CLI runs from source through tsx, whose loader thread adds a few hundred
 * milliseconds to every process exit: fine for a smoke run, not for figures.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support.js';

const RUNS = Number(process.argv[2] ?? 5);
const MIN_MS = 1000;
const HOLD_MS = 3000;
const root = fileURLToPath(new URL('..', import.meta.url));
const envoyDouble = join(root, 'test/fixtures/envoy-double');

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One `corral run` of the envoy stack; `hold` opens a 3 s request right before SIGTERM. */
interface Run {
  /** SIGTERM to Corral's exit, measured here. */
  readonly stopMs: number;
  /** The held request's end to Corral's exit, and to Corral's `stop.summary` record (wall clock). */
  readonly afterRequestMs?: number;
  readonly afterRequestToSummaryMs?: number;
  /** From Corral's own records: the drain, Envoy's stop (SIGTERM to its group being empty), the whole shutdown. */
  readonly drainMs: number;
  readonly envoyStopMs: number;
  readonly shutdownMs: number;
  /** Wall clock: SIGTERM sent to Corral's `shutdown.started` record; its `stop.summary` record to its exit. */
  readonly signalToShutdownMs: number;
  readonly summaryToExitMs: number;
}

/** A number field of the first JSON record with `event`. */
function recorded(out: string, event: string, field: string): number {
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record.event === event && typeof record[field] === 'number') return record[field];
  }
  return NaN;
}

async function runOnce(hold: boolean): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'crl-bench-'));
  try {
    const admin = await freePort();
    await writeFile(
      join(dir, 'envoy.yaml'),
      `admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: ${admin} } }\n` +
        `static_resources:\n  listeners:\n    - name: inbound\n      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\n`,
    );
    await writeFile(
      join(dir, 'corral.yaml'),
      [
        'components:',
        '  envoy:',
        '    kind: envoy',
        `    binary: ${envoyDouble}`,
        '    bootstrap: ./envoy.yaml',
        `    admin: 127.0.0.1:${admin}`,
        '    drain: { min: 1s, timeout: 30s }',
        '    stopTimeout: 5s',
        '',
      ].join('\n'),
    );
    const entry = `const { main } = await import(${JSON.stringify(join(root, 'src/cli/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const cli = process.env.CORRAL_BIN
      ? [resolve(process.env.CORRAL_BIN)]
      : ['--import', 'tsx', '--input-type=module', '-e', entry];
    const corral = spawn(
      process.execPath,
      [...cli, 'run', '-f', join(dir, 'corral.yaml'), '--log-format', 'json'],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    corral.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = once(corral, 'exit');
    await waitFor('envoy to be ready', () =>
      get(`http://127.0.0.1:${admin}/ready`).then((r) => r.status === 200),
    );
    await waitFor('corral to report envoy ready', () => Promise.resolve(out.includes('"component.ready"')));

    let request: Promise<number> | undefined;
    let requestEndWall = NaN;
    if (hold) {
      const listeners = await get(`http://127.0.0.1:${admin}/listeners`);
      const address = listeners.body.split('::')[1]?.trim() ?? '';
      request = get(`http://${address}/slow?ms=${HOLD_MS}`).then((r) => {
        if (r.status !== 200) throw new Error(`held request answered ${r.status}`);
        requestEndWall = Date.now();
        return performance.now();
      });
      await waitFor('the connection to be counted', () =>
        get(`http://127.0.0.1:${admin}/stats?filter=downstream_cx_active`).then((r) =>
          /listener\.127\.0\.0\.1_\d+\.downstream_cx_active: 1/.test(r.body),
        ),
      );
    }
    const sigterm = performance.now();
    const sigtermWall = Date.now();
    corral.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    const exitAt = performance.now();
    const exitWall = Date.now();
    if (code !== 0) throw new Error(`corral exited with ${code}:\n${out}`);
    const requestEnd = request ? await request : undefined;
    return {
      stopMs: exitAt - sigterm,
      ...(requestEnd === undefined
        ? {}
        : {
            afterRequestMs: exitAt - requestEnd,
            afterRequestToSummaryMs: recorded(out, 'stop.summary', 'time') - requestEndWall,
          }),
      drainMs: recorded(out, 'component.drained', 'durationMs'),
      envoyStopMs: recorded(out, 'process.exited', 'stopDurationMs'),
      shutdownMs: recorded(out, 'stop.summary', 'shutdownMs'),
      signalToShutdownMs: recorded(out, 'shutdown.started', 'time') - sigtermWall,
      summaryToExitMs: exitWall - recorded(out, 'stop.summary', 'time'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(0);
  return `${label.padEnd(44)} min ${at(0).padStart(5)} ms   median ${at(0.5).padStart(5)} ms   max ${at(1).padStart(5)} ms`;
}

const idle: Run[] = [];
const held: Run[] = [];
for (let i = 0; i < RUNS; i++) idle.push(await runOnce(false));
for (let i = 0; i < RUNS; i++) held.push(await runOnce(true));
const breakdown = (runs: Run[]) => [
  summary(
    '    drain (Corral record)',
    runs.map((r) => r.drainMs),
  ),
  summary(
    '    envoy SIGTERM -> group empty',
    runs.map((r) => r.envoyStopMs),
  ),
  summary(
    '    shutdown (Corral record)',
    runs.map((r) => r.shutdownMs),
  ),
  summary(
    '    SIGTERM -> shutdown.started (wall clock)',
    runs.map((r) => r.signalToShutdownMs),
  ),
  summary(
    '    stop.summary -> exit (wall clock)',
    runs.map((r) => r.summaryToExitMs),
  ),
];
console.log(`envoy drain through \`corral run\` (Envoy double), drain.min ${MIN_MS} ms, ${RUNS} runs each`);
console.log(
  summary(
    'idle: SIGTERM -> exit',
    idle.map((r) => r.stopMs),
  ),
);
console.log(
  summary(
    '  over drain.min (goal <= 200)',
    idle.map((r) => r.stopMs - MIN_MS),
  ),
);
for (const line of breakdown(idle)) console.log(line);
console.log(
  summary(
    `held ${HOLD_MS} ms: SIGTERM -> exit`,
    held.map((r) => r.stopMs),
  ),
);
console.log(
  summary(
    '  request end -> exit (goal <= 300)',
    held.flatMap((r) => r.afterRequestMs ?? []),
  ),
);
console.log(
  summary(
    '    request end -> stop.summary (wall clock)',
    held.flatMap((r) => r.afterRequestToSummaryMs ?? []),
  ),
);
for (const line of breakdown(held)) console.log(line);
console.log(
  `kuma-dp, for comparison: its fixed drain sleeps the whole drain time in both cases (30 s by default)`,
);
