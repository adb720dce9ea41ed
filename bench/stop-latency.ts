/**
 * Stop latency: N children that exit at once on SIGTERM (`sleep 1000`); the time from SIGTERM,
 * sent to the supervisor, to the supervisor's exit. Four supervisors, in the same run, pair by
 * pair (each repeat runs all of them back to back, in a rotating order):
 *   - corral: `node bin/corral.js run -f <stack> --log-format json` (stdout to /dev/null), one
 *     component `command: [sleep, "1000"]` per child;
 *   - concurrently 9: `node_modules/.bin/concurrently -k 'sleep 1000' …`;
 *   - bash, the floor: every child in its own session (setsid), `trap` TERM, signal every group, wait;
 *   - node, the floor for any supervisor written for Node: the same in a dozen lines of Node
 *     (`detached` children, SIGTERM to every group, exit when the last child exited). Corral/node
 *     is what Corral's own machinery costs; node/bash is the runtime's start-and-exit cost.
 * Before SIGTERM, every child runs (counted in the supervisor's tree through /proc) and the tree
 * has been unchanged for SETTLE_MS; after the exit, every process of the tree must be gone (zombies
 * count as gone), or the bench kills the rest by pid and says so. Start-up is not measured.
 * Besides the wall time, the CPU time the supervisor's tree used for the stop (user + system, from
 * SIGTERM to the exit, ±20 ms): on a loaded machine the wall time is mostly waiting for a CPU, and
 * the CPU time says what the stop itself costs.
 * A supervisor that has not exited after the cap is SIGKILLed (its children too) and reported as
 * "> cap"; larger points are then skipped for it.
 *
 *   npm run build && node --import tsx bench/stop-latency.ts [--repeats 5] [--sizes 1,10,50,100,200] [--cap 60] [--profile 5]
 *
 * CORRAL_BIN=/path/to/bin/corral.js measures another build (default: this repository's bin/corral.js,
 * which runs dist/). `--profile R` adds R extra Corral runs of 50 children with the JSON log kept,
 * and prints where the stop time goes, from Corral's own records. `--only corral,bash` runs a subset;
 * `--variant name=/path/to/bin/corral.js` (repeatable) adds another Corral build as supervisor
 * `corral-<name>`, compared pair by pair with `corral` (for measuring a patch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listProcesses } from '../src/containment/liveness.js';
import { killAll, live, pause, started, tree } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    sizes: { type: 'string', default: '1,10,50,100,200' },
    cap: { type: 'string', default: '60' },
    profile: { type: 'string', default: '0' },
    only: { type: 'string' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const REPEATS = Number(args.repeats);
const SIZES = args.sizes.split(',').map(Number);
const CAP_MS = Number(args.cap) * 1000;
const PROFILE_RUNS = Number(args.profile);
const CORRAL_BIN = process.env.CORRAL_BIN ?? join(root, 'bin/corral.js');
const CONCURRENTLY = join(root, 'node_modules/.bin/concurrently');
/** The tree must be this long unchanged before SIGTERM, so that start-up work is over. */
const SETTLE_MS = 300;
const START_TIMEOUT_MS = 180_000;
const GONE_TIMEOUT_MS = 10_000;
/** USER_HZ: /proc reports CPU time in these ticks (100 on every Linux architecture Node runs on). */
const TICK_MS = 10;

/** The bash floor: each child leads its own session; on TERM every group is signalled, then waited for. */
const BASH_FLOOR = `
trap 'for p in "\${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done; wait; exit 0' TERM
pids=()
for ((i = 0; i < $1; i++)); do setsid sleep 1000 & pids+=($!); done
wait
`;

/** The Node floor: the same supervisor in Node; it exits on its own once the last child exited. */
const NODE_FLOOR = `
const { spawn } = require('node:child_process');
const children = Array.from({ length: Number(process.argv[1]) }, () =>
  spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }));
process.on('SIGTERM', () => {
  for (const child of children) try { process.kill(-child.pid, 'SIGTERM'); } catch {}
});
`;

/** Other Corral builds to compare with, `--variant name=/path/to/bin/corral.js`: supervisor `corral-<name>`. */
const VARIANTS = new Map<string, string>(
  args.variant.map((v) => {
    const [name = '', path = ''] = v.split('=');
    return [`corral-${name}`, path];
  }),
);
/** A supervisor's name: corral, concurrently, node, bash, or corral-<variant>. */
type Supervisor = string;
const SUPERVISORS: readonly Supervisor[] = [
  ...(args.only?.split(',') ?? ['corral', 'concurrently', 'node', 'bash']),
  ...VARIANTS.keys(),
];

interface Measured {
  /** SIGTERM to the supervisor's exit; undefined when it outlived the cap. */
  readonly ms: number | undefined;
  /** CPU used from SIGTERM to the exit, the supervisor and everything it reaped. */
  readonly cpuMs: number | undefined;
  readonly exit: string;
  /** Processes of its tree still alive GONE_TIMEOUT_MS after its exit (then SIGKILLed). */
  readonly leftBehind: number;
  /** Only for profiled Corral runs: the JSON log. */
  readonly log?: string;
  /** Date.now() when SIGTERM was sent (for the profile). */
  readonly sentAt: number;
}

function aliveOf(pids: Iterable<number>): number[] {
  const all = new Map(listProcesses().map((p) => [p.pid, p]));
  return [...pids].filter((pid) => {
    const p = all.get(pid);
    return p !== undefined && live(p);
  });
}

/** Reaped children's CPU time from /proc/<pid>/stat (cutime + cstime), in ms (10 ms ticks). */
function reapedCpuMs(pid: number | 'self'): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the last `)` start at state (field 3); cutime and cstime are fields 16 and 17.
    const fields = text
      .slice(text.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return ((fields[13] ?? NaN) + (fields[14] ?? NaN)) * TICK_MS;
  } catch {
    return 0; // Gone meanwhile.
  }
}

/** CPU time of every thread of `pid` so far, in ms, at nanosecond precision (/proc/<pid>/task/<tid>/schedstat). */
function ownCpuMs(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0] ?? 0);
    }
  } catch {
    // Gone meanwhile.
  }
  return ns / 1e6;
}

/**
 * The CPU that `pid` and its live descendants have used so far, theirs and their reaped children's.
 * What a process used is added to its parent's cutime + cstime when reaped, so once the whole tree
 * is reaped by this bench, the growth of the bench's own cutime + cstime minus this is what the
 * tree used from now on. Resolution: the 10 ms ticks of cutime, about ±20 ms on the difference.
 */
function treeCpuMs(pid: number): number {
  const all = [
    pid,
    ...tree(pid)
      .filter(live)
      .map((p) => p.pid),
  ];
  return all.reduce((sum, p) => sum + ownCpuMs(p) + reapedCpuMs(p), 0);
}

function launch(supervisor: Supervisor, n: number, dir: string, logFile: string | undefined): ChildProcess {
  const out = openSync(logFile ?? '/dev/null', 'w');
  const stdio: ['ignore', number, 'pipe'] = ['ignore', out, 'pipe'];
  try {
    const corralBin = supervisor === 'corral' ? CORRAL_BIN : VARIANTS.get(supervisor);
    if (corralBin !== undefined) {
      const stack = join(dir, `stack-${n}.yaml`);
      const components = Array.from({ length: n }, (_, i) => `  s${i}:\n    command: [sleep, "1000"]\n`);
      writeFileSync(stack, `components:\n${components.join('')}`);
      return spawn(process.execPath, [corralBin, 'run', '-f', stack, '--log-format', 'json'], {
        cwd: dir,
        stdio,
      });
    }
    switch (supervisor) {
      case 'concurrently':
        return spawn(CONCURRENTLY, ['-k', ...Array.from({ length: n }, () => 'sleep 1000')], {
          cwd: dir,
          stdio,
        });
      case 'node':
        return spawn(process.execPath, ['-e', NODE_FLOOR, String(n)], { cwd: dir, stdio });
      case 'bash':
        return spawn('bash', ['-c', BASH_FLOOR, 'floor', String(n)], { cwd: dir, stdio });
      default:
        throw new Error(`unknown supervisor ${supervisor}`);
    }
  } finally {
    closeSync(out);
  }
}

/** One start, SIGTERM and exit of `supervisor` with `n` children; see the module doc. */
async function measure(supervisor: Supervisor, n: number, dir: string, keepLog = false): Promise<Measured> {
  const logFile = keepLog ? join(dir, `corral-${n}.log`) : undefined;
  // The bench reaps one child at a time, so the growth of its own cutime + cstime is this one's.
  const reapedBefore = reapedCpuMs('self');
  const child = launch(supervisor, n, dir, logFile);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${supervisor} did not start`);
  started.add(pid);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  let exitStatus: string | undefined;
  const exited = once(child, 'exit').then(([code, signal]) => {
    exitStatus = signal === null ? `exit ${String(code)}` : String(signal);
    return performance.now();
  });
  const seen = new Set<number>();
  try {
    await whenAllRunning(
      supervisor,
      n,
      pid,
      seen,
      () => exitStatus,
      () => stderr,
    );
    const beforeStop = treeCpuMs(pid);
    // Both clocks read right before the signal: the /proc walk above takes milliseconds.
    const sentAt = Date.now();
    const sent = performance.now();
    child.kill('SIGTERM');
    const at = await Promise.race([exited, pause(CAP_MS).then(() => undefined)]);
    if (at === undefined) killAll([pid, ...seen]);
    await exited;
    const cpuMs = reapedCpuMs('self') - reapedBefore - beforeStop;

    const goneBy = performance.now() + GONE_TIMEOUT_MS;
    let left = aliveOf(seen);
    while (left.length > 0 && performance.now() < goneBy) {
      await pause(20);
      left = aliveOf(seen);
    }
    killAll(left);
    return {
      ms: at === undefined ? undefined : at - sent,
      cpuMs: at === undefined ? undefined : cpuMs,
      exit: exitStatus ?? '?',
      leftBehind: left.length,
      sentAt,
      ...(logFile === undefined ? {} : { log: readFileSync(logFile, 'utf8') }),
    };
  } catch (error) {
    killAll([pid, ...seen]);
    await exited;
    throw error;
  } finally {
    killAll(aliveOf([pid, ...seen]));
    for (const p of [pid, ...seen]) started.delete(p);
  }
}

/** Waits until `n` sleeps run in `pid`'s tree and the tree has been unchanged for SETTLE_MS. */
async function whenAllRunning(
  supervisor: Supervisor,
  n: number,
  pid: number,
  seen: Set<number>,
  exitStatus: () => string | undefined,
  stderr: () => string,
): Promise<void> {
  const startBy = performance.now() + START_TIMEOUT_MS;
  let stableSince = performance.now();
  let last = '';
  for (;;) {
    const status = exitStatus();
    if (status !== undefined) throw new Error(`${supervisor} ended during start-up (${status}): ${stderr()}`);
    if (performance.now() > startBy) throw new Error(`${supervisor} did not start ${n} children in time`);
    const procs = tree(pid).filter(live);
    for (const p of procs) {
      seen.add(p.pid);
      started.add(p.pid);
    }
    const sleeping = procs.filter((p) => p.comm === 'sleep');
    const shape = `${sleeping.length}/${procs.length}`;
    if (shape !== last) {
      last = shape;
      stableSince = performance.now();
    }
    if (sleeping.length === n && performance.now() - stableSince >= SETTLE_MS) {
      // concurrently's children share its session; the others promise a session per child.
      if (supervisor !== 'concurrently' && sleeping.some((p) => p.sid !== p.pid)) {
        throw new Error(`${supervisor}: a child does not lead its own session`);
      }
      return;
    }
    await pause(20);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

const fmt = (ms: number | undefined): string =>
  ms === undefined
    ? `> ${CAP_MS / 1000} s`
    : ms >= 1000
      ? `${(ms / 1000).toFixed(2)} s`
      : `${ms.toFixed(1)} ms`;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

// --- the runs -------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'corral-stop-bench-'));
const results = new Map<string, Measured[]>(); // `${supervisor}:${n}`
const cappedAt = new Map<Supervisor, number>();
const runs = (s: Supervisor, n: number): Measured[] => results.get(`${s}:${n}`) ?? [];
console.log(`stop latency: ${REPEATS} repeats per point, sizes ${SIZES.join(', ')}, cap ${CAP_MS / 1000} s`);
console.log(`corral: ${CORRAL_BIN}; node ${process.version}; load average at start: ${load()}`);
try {
  for (const n of SIZES) {
    for (let r = 0; r < REPEATS; r++) {
      // Rotate the order so that no supervisor always runs first (or right after another's cleanup).
      const order = SUPERVISORS.map((_, i) => SUPERVISORS[(i + r) % SUPERVISORS.length] as Supervisor);
      for (const supervisor of order) {
        if ((cappedAt.get(supervisor) ?? Infinity) <= n) continue;
        const m = await measure(supervisor, n, dir);
        results.set(`${supervisor}:${n}`, [...runs(supervisor, n), m]);
        if (m.ms === undefined) cappedAt.set(supervisor, n);
        if (m.leftBehind > 0)
          console.log(`  ! ${supervisor} left ${m.leftBehind} process(es) behind (killed)`);
      }
    }
    const line = SUPERVISORS.map(
      (s) =>
        `${s} ${
          runs(s, n)
            .map((m) => fmt(m.ms))
            .join(' / ') || 'skipped'
        }`,
    );
    console.log(`n=${n}: ${line.join(' | ')}   (load ${load()})`);
  }
  report();
  if (PROFILE_RUNS > 0) await profile(dir);
  console.log(`\nload average at the end: ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function report(): void {
  const done = (s: Supervisor, n: number): number[] | undefined => {
    const ms = runs(s, n).map((m) => m.ms);
    return ms.length === 0 || ms.includes(undefined) ? undefined : (ms as number[]);
  };
  const cell = (s: Supervisor, n: number): string => {
    const ms = done(s, n);
    if (ms) return `${fmt(median(ms))} (${fmt(Math.min(...ms))} – ${fmt(Math.max(...ms))})`;
    return runs(s, n).length ? `> ${CAP_MS / 1000} s (1 run)` : 'not run (> cap)';
  };
  /** The median over repeats of a/b within the same repeat. */
  const ratio = (a: Supervisor, b: Supervisor, n: number): string => {
    const as = runs(a, n);
    const bs = runs(b, n);
    const bMedian = done(b, n);
    if (!done(a, n)) return as.length && bMedian ? `> ${(CAP_MS / median(bMedian)).toFixed(0)}x` : 'n/a';
    const ratios = as.flatMap((m, i) => {
      const other = bs[i]?.ms;
      return m.ms === undefined || other === undefined ? [] : [m.ms / other];
    });
    return ratios.length ? `${median(ratios).toFixed(2)}x` : 'n/a';
  };
  const cpu = (s: Supervisor, n: number): string => {
    const values = runs(s, n).flatMap((m) => (m.cpuMs === undefined ? [] : [m.cpuMs]));
    return values.length ? `${median(values).toFixed(0)} ms` : '-';
  };
  const row = (cells: readonly string[], widths: readonly number[]): string =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 12)).join(' ');

  console.log('\nSIGTERM → exit, median (min – max) of each point:');
  const w = [9, ...SUPERVISORS.map(() => 30)];
  console.log(row(['children', ...SUPERVISORS], w));
  for (const n of SIZES) console.log(row([String(n), ...SUPERVISORS.map((s) => cell(s, n))], w));

  console.log('\nCPU time of the stop (user + system of the whole tree, SIGTERM → exit, ±20 ms), median:');
  const cw = [9, ...SUPERVISORS.map((s) => Math.max(14, s.length + 1))];
  console.log(row(['children', ...SUPERVISORS], cw));
  for (const n of SIZES) console.log(row([String(n), ...SUPERVISORS.map((s) => cpu(s, n))], cw));

  console.log('\nratios, median of the pairwise ratios within each repeat:');
  const pairs = (
    [
      ['corral', 'bash'],
      ['corral', 'node'],
      ['node', 'bash'],
      ['concurrently', 'bash'],
      ['concurrently', 'corral'],
      ...[...VARIANTS.keys()].map((v) => [v, 'corral']),
    ] as [Supervisor, Supervisor][]
  ).filter(([a, b]) => SUPERVISORS.includes(a) && SUPERVISORS.includes(b));
  const rw = [9, ...pairs.map(() => 20)];
  console.log(row(['children', ...pairs.map(([a, b]) => `${a}/${b}`)], rw));
  for (const n of SIZES) console.log(row([String(n), ...pairs.map(([a, b]) => ratio(a, b, n))], rw));

  const first = SIZES[0] ?? 1;
  console.log(
    `\ngrowth: median(n) / median(${first}), and each extra child's cost (median(n) - median(${first})) / (n - ${first}):`,
  );
  for (const s of SUPERVISORS) {
    const base = done(s, first);
    const cells = SIZES.map((n) => {
      const ms = done(s, n);
      if (!ms || !base) return `${n}: > cap`;
      const per = n > first ? `, ${((median(ms) - median(base)) / (n - first)).toFixed(2)} ms/child` : '';
      return `${n}: ${(median(ms) / median(base)).toFixed(1)}x${per}`;
    });
    console.log(`  ${s.padEnd(16)} ${cells.join(' | ')}`);
  }

  const c50 = done('corral', 50);
  const n50 = done('node', 50);
  if (c50 && n50) {
    const r = median(c50) / median(n50);
    console.log(
      `\ngoal (50 children): corral at most 2x the node floor: ${fmt(median(c50))} vs ${fmt(median(n50))} = ${r.toFixed(2)}x → ${r <= 2 ? 'MET' : 'MISSED'}`,
    );
  }
}

/**
 * Where Corral's stop time goes, from its own JSON records (`time`, Date.now()): SIGTERM to the
 * record of the signal, to `shutdown.started`, to the first `component.stopping`, to the last
 * `process.exited` (group empty), to `stop.summary`, and from there to the process exit.
 */
async function profile(workDir: string): Promise<void> {
  const phases = new Map<string, number[]>();
  const add = (name: string, ms: number): void => {
    phases.set(name, [...(phases.get(name) ?? []), ms]);
  };
  for (let r = 0; r < PROFILE_RUNS; r++) {
    const m = await measure('corral', 50, workDir, true);
    if (m.ms === undefined || m.log === undefined) continue;
    const records = m.log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { time: number; event?: string; msg?: string });
    const first = (test: (x: { event?: string; msg?: string }) => boolean): number =>
      records.find(test)?.time ?? NaN;
    const last = (event: string): number =>
      Math.max(...records.filter((x) => x.event === event).map((x) => x.time));
    const marks: [string, number][] = [
      ['SIGTERM → signal handled (its log line)', first((x) => x.msg?.startsWith('SIGTERM') ?? false)],
      ['→ shutdown.started', first((x) => x.event === 'shutdown.started')],
      ['→ first component.stopping', first((x) => x.event === 'component.stopping')],
      ['→ last component.stopping', last('component.stopping')],
      ['→ last process.exited (group and cgroup empty)', last('process.exited')],
      ['→ last component.stopped', last('component.stopped')],
      ['→ stop.summary (stop report printed)', first((x) => x.event === 'stop.summary')],
      ['→ process exit (endpoints, watchdog, cgroups, work dir, Node)', m.sentAt + m.ms],
    ];
    let previous = m.sentAt;
    for (const [name, at] of marks) {
      add(name, at - previous);
      previous = at;
    }
    add('total (SIGTERM → exit)', m.ms);
  }
  console.log(
    `\nwhere Corral's stop time goes, 50 children, median of ${PROFILE_RUNS} runs (ms, from its JSON records):`,
  );
  for (const [name, values] of phases) {
    const all = values.map((v) => v.toFixed(0)).join(', ');
    console.log(`  ${name.padEnd(64)} ${median(values).toFixed(0).padStart(6)}   (${all})`);
  }
}
