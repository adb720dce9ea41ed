/**
 * Memory: Corral's resident memory with 100 idle children (`sleep 1000` components, JSON log to
 * /dev/null), against an idle `node -e 'setInterval(() => {}, 1e9)'`. Goal: at most 25 MB more.
 * Also measured: Corral with 1 child (what each further child costs), the watchdog (a separate
 * `sh` process, reported on its own, not in Corral's figure), and concurrently 9 with the same 100
 * children, for scale.
 *
 * Each process is sampled twice once all its children run: `early`, after it has been left alone
 * for SETTLE_MS, and `settled`, IDLE_MS after its children ran. Between the two, V8's memory
 * reducer (which starts about 8 s after the last busy moment) usually gives start-up's garbage
 * back; `settled` is what an idle Corral keeps. Each sample is VmRSS (and RssAnon, its private
 * part) from /proc/<pid>/status, SAMPLES times SAMPLE_GAP_MS apart, median. The whole set is
 * repeated `--repeats` times (interleaved), and the medians are printed.
 * Every process started is stopped with SIGTERM and, if still there after 30 s, SIGKILLed by pid.
 *
 *   npm run build && node --import tsx bench/memory.ts [--repeats 3] [--children 100]
 *
 * CORRAL_BIN=/path/to/bin/corral.js measures another build (default: this repository's bin/corral.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listProcesses } from '../src/containment/liveness.js';
import { killAll, live, pause, started, tree } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    children: { type: 'string', default: '100' },
  },
});
const REPEATS = Number(args.repeats);
const CHILDREN = Number(args.children);
const CORRAL_BIN = process.env.CORRAL_BIN ?? join(root, 'bin/corral.js');
const CONCURRENTLY = join(root, 'node_modules/.bin/concurrently');
const SETTLE_MS = 2000;
const IDLE_MS = 30_000;
const SAMPLES = 5;
const SAMPLE_GAP_MS = 500;
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
const GOAL_MB = 25;

/** Resident memory of one process, in MB. */
interface Rss {
  readonly rss: number;
  readonly anon: number;
}

type Subject =
  'node idle' | 'corral 1 child' | `corral ${number} children` | `concurrently ${number} children`;

interface Sample {
  readonly subject: Subject;
  /** SETTLE_MS after all children ran. */
  readonly early: Rss;
  /** IDLE_MS after all children ran. */
  readonly settled: Rss;
  /** Corral's watchdog, when there is one. */
  readonly watchdog?: Rss;
  /** Corral's peak resident memory so far (VmHWM), MB. */
  readonly peak: number;
}

/** Median RSS of `pid` (and of `also`, read at the same moments) over SAMPLES readings SAMPLE_GAP_MS apart. */
async function sample(pid: number, also?: number): Promise<{ rss: Rss; also?: Rss }> {
  const own: Rss[] = [];
  const other: Rss[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await pause(SAMPLE_GAP_MS);
    own.push(rssOf(pid));
    if (also !== undefined) other.push(rssOf(also));
  }
  return { rss: medianRss(own), ...(also === undefined ? {} : { also: medianRss(other) }) };
}

/** A `kB` field of /proc/<pid>/status, in MB. */
function statusMb(pid: number, field: 'VmRSS' | 'RssAnon' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for ${pid}`);
  return Number(match[1]) / 1024;
}
const rssOf = (pid: number): Rss => ({ rss: statusMb(pid, 'VmRSS'), anon: statusMb(pid, 'RssAnon') });

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}
const medianRss = (xs: readonly Rss[]): Rss => ({
  rss: median(xs.map((x) => x.rss)),
  anon: median(xs.map((x) => x.anon)),
});

function launch(subject: Subject, dir: string): ChildProcess {
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
  const n = Number(/(\d+) child/.exec(subject)?.[1] ?? 0);
  if (subject === 'node idle')
    return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio });
  if (subject.startsWith('concurrently')) {
    return spawn(CONCURRENTLY, ['-k', ...Array.from({ length: n }, () => 'sleep 1000')], { cwd: dir, stdio });
  }
  const stack = join(dir, `stack-${n}.yaml`);
  const components = Array.from({ length: n }, (_, i) => `  s${i}:\n    command: [sleep, "1000"]\n`);
  writeFileSync(stack, `components:\n${components.join('')}`);
  return spawn(process.execPath, [CORRAL_BIN, 'run', '-f', stack, '--log-format', 'json'], {
    cwd: dir,
    stdio,
  });
}

async function measure(subject: Subject, dir: string): Promise<Sample> {
  const child = launch(subject, dir);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${subject} did not start`);
  started.add(pid);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const state = { ended: false };
  const exited = once(child, 'exit').then(() => (state.ended = true));
  const seen = new Set<number>();
  try {
    const n = Number(/(\d+) child/.exec(subject)?.[1] ?? 0);
    const startBy = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      if (state.ended) throw new Error(`${subject} ended during start-up: ${stderr}`);
      if (performance.now() > startBy) throw new Error(`${subject}: ${n} children not running in time`);
      const procs = tree(pid).filter(live);
      for (const p of procs) {
        seen.add(p.pid);
        started.add(p.pid);
      }
      if (procs.filter((p) => p.comm === 'sleep').length === n) break;
      await pause(50);
    }
    const running = performance.now();
    await pause(SETTLE_MS);
    // Corral's direct children are its components' processes and the watchdog (`sh`, own session).
    const watchdogs = subject.startsWith('corral')
      ? tree(pid)
          .filter(live)
          .filter((p) => p.ppid === pid && p.comm !== 'sleep')
      : [];
    if (watchdogs.length > 1)
      throw new Error(`${subject}: more than one non-sleep child: ${JSON.stringify(watchdogs)}`);
    const watchdog = watchdogs[0]?.pid;
    const early = await sample(pid, watchdog);
    await pause(running + IDLE_MS - performance.now());
    const settled = await sample(pid);
    return {
      subject,
      early: early.rss,
      settled: settled.rss,
      ...(early.also === undefined ? {} : { watchdog: early.also }),
      peak: statusMb(pid, 'VmHWM'),
    };
  } finally {
    for (const p of tree(pid).filter(live)) seen.add(p.pid);
    // concurrently's own stop of 100 children takes minutes (see bench/stop-latency.ts); its stop
    // is not measured here, so its children get SIGTERM directly.
    if (subject.startsWith('concurrently')) {
      for (const p of seen) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited, pause(STOP_TIMEOUT_MS).then(() => false)]);
    if (!stopped) {
      console.log(`  ! ${subject} still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM: SIGKILL`);
      killAll([pid, ...seen]);
      await exited;
    }
    const goneBy = performance.now() + STOP_TIMEOUT_MS;
    const alive = (): number[] => {
      const all = new Map(listProcesses().map((p) => [p.pid, p]));
      return [...seen].filter((p) => {
        const stat = all.get(p);
        return stat !== undefined && live(stat);
      });
    };
    while (alive().length > 0 && performance.now() < goneBy) await pause(50);
    const left = alive();
    if (left.length > 0) console.log(`  ! ${subject} left ${left.length} process(es) behind: SIGKILL`);
    killAll(left);
    for (const p of [pid, ...seen]) started.delete(p);
  }
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const mb = (x: number): string => `${x.toFixed(1)} MB`;

const subjects: Subject[] = [
  'node idle',
  `corral ${CHILDREN} children`,
  'corral 1 child',
  `concurrently ${CHILDREN} children`,
];
const dir = mkdtempSync(join(tmpdir(), 'corral-memory-bench-'));
const samples: Sample[] = [];
console.log(
  `memory: ${REPEATS} repeats; corral: ${CORRAL_BIN}; node ${process.version}; load average: ${load()}`,
);
try {
  for (let r = 0; r < REPEATS; r++) {
    for (const subject of subjects) {
      const s = await measure(subject, dir);
      samples.push(s);
      const wd = s.watchdog ? `, watchdog ${mb(s.watchdog.rss)}` : '';
      console.log(
        `  run ${r + 1}: ${subject.padEnd(26)} VmRSS ${mb(s.early.rss)} (RssAnon ${mb(s.early.anon)}), settled ${mb(s.settled.rss)} (${mb(s.settled.anon)})${wd}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

type When = 'early' | 'settled';
const of = (subject: Subject): Sample[] => samples.filter((s) => s.subject === subject);
const rss = (subject: Subject, when: When = 'early'): number => median(of(subject).map((s) => s[when].rss));
const anon = (subject: Subject, when: When = 'early'): number => median(of(subject).map((s) => s[when].anon));
const watchdogs = of(`corral ${CHILDREN} children`).flatMap((s) => (s.watchdog ? [s.watchdog] : []));

console.log(`\nmedians of ${REPEATS} runs (VmRSS, RssAnon in parentheses):`);
console.log(
  `  ${''.padEnd(26)} ${`${SETTLE_MS / 1000} s after start-up`.padEnd(20)} ${IDLE_MS / 1000} s (settled)`,
);
for (const subject of subjects) {
  const peak = subject.startsWith('corral')
    ? `, peak (VmHWM) ${mb(median(of(subject).map((s) => s.peak)))}`
    : '';
  console.log(
    `  ${subject.padEnd(26)} ${`${mb(rss(subject))} (${mb(anon(subject))})`.padEnd(20)} ${mb(rss(subject, 'settled'))} (${mb(anon(subject, 'settled'))})${peak}`,
  );
}
if (watchdogs.length > 0) {
  console.log(
    `  ${'watchdog (separate sh)'.padEnd(26)} ${mb(median(watchdogs.map((w) => w.rss)))} (${mb(median(watchdogs.map((w) => w.anon)))})`,
  );
}
for (const when of ['early', 'settled'] as const) {
  const node = rss('node idle', when);
  const corral = rss(`corral ${CHILDREN} children`, when);
  const corral1 = rss('corral 1 child', when);
  const label = when === 'early' ? `${SETTLE_MS / 1000} s after start-up` : `settled (${IDLE_MS / 1000} s)`;
  console.log(`\n${label}:`);
  console.log(
    `  corral with ${CHILDREN} children - idle node: ${mb(corral - node)} (${(corral / node).toFixed(2)}x)`,
  );
  console.log(`  corral with 1 child - idle node:  ${mb(corral1 - node)} (Corral's fixed cost)`);
  console.log(`  each further child: ${(((corral - corral1) / (CHILDREN - 1)) * 1024).toFixed(0)} kB`);
  console.log(
    `  concurrently with ${CHILDREN} children / corral: ${(rss(`concurrently ${CHILDREN} children`, when) / corral).toFixed(2)}x`,
  );
  console.log(
    `  goal: at most ${GOAL_MB} MB more than idle node: ${mb(corral - node)} → ${corral - node <= GOAL_MB ? 'MET' : 'MISSED'}`,
  );
}
console.log(`load average at the end: ${load()}`);
