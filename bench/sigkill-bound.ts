/**
 * The SIGKILL bound: how long the processes of a stack outlive a SIGKILL of Corral. N components,
 * one of them a shell whose two children ignore SIGTERM (`stubborn`), the others a shell with one
 * child that stops on SIGTERM. Corral is SIGKILLed once everything runs; the figure is the time
 * from that SIGKILL until the last of those processes is gone (a zombie counts as gone), polled
 * every millisecond through /proc. The watchdog itself is not counted: it ends after its cleanup.
 *
 * Each size runs idle and with two CPU-bound processes competing (`node -e 'for(;;);'`, twice, for
 * the whole measurement), on the same machine, repeat by repeat. The floor is the same process
 * trees started by this bench itself, each in its own session, and SIGKILLed group by group
 * directly: what the kernel needs to end them, with no supervisor in between.
 *
 *   npm run build && node --import tsx bench/sigkill-bound.ts [--repeats 10] [--sizes 1,10,50]
 *
 * CORRAL_BIN=/path/to/bin/corral.js measures another build (default: this repository's
 * bin/corral.js, which runs dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listProcesses, readStat } from '../src/containment/liveness.js';
import { killAll, live, pause, started, tree } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '10' },
    sizes: { type: 'string', default: '1,10,50' },
  },
});
const REPEATS = Number(args.repeats);
const SIZES = args.sizes.split(',').map(Number);
const CORRAL_BIN = process.env.CORRAL_BIN ?? join(root, 'bin/corral.js');
/** The tree must be this long unchanged before the SIGKILL, so that start-up work is over. */
const SETTLE_MS = 300;
const START_TIMEOUT_MS = 120_000;
/** Survivors after this long are reported as such and killed by the bench. */
const GONE_TIMEOUT_MS = 15_000;

/** The component whose children ignore SIGTERM: only the watchdog's SIGKILL ends them. */
const STUBBORN = "trap '' TERM; sleep 1000 & sleep 1000 & wait";
/** Every other component: a shell and a child that stops on SIGTERM. */
const PLAIN = 'sleep 1000 & wait';

function stackFile(dir: string, n: number): string {
  const file = join(dir, `stack-${n}.yaml`);
  const components = Array.from({ length: n }, (_, i) =>
    i === 0
      ? `  stubborn:\n    command: [/bin/sh, -c, "${STUBBORN}"]\n`
      : `  c${i}:\n    command: [/bin/sh, -c, "${PLAIN}"]\n`,
  );
  writeFileSync(file, `components:\n${components.join('')}`);
  return file;
}

/** Processes a stack of `n` components runs: a shell per component, and 2 + (n - 1) children. */
const expected = (n: number): number => n + 2 + (n - 1);

function isWatchdog(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('corral-watchdog');
  } catch {
    return false;
  }
}

/** The component processes under `pid`: its tree without the watchdog and what the watchdog runs. */
function componentProcesses(pid: number): number[] {
  const all = tree(pid).filter(live);
  const watchdogs = new Set(all.filter((p) => p.ppid === pid && isWatchdog(p.pid)).map((p) => p.pid));
  const under = new Set<number>();
  for (const w of watchdogs) for (const p of tree(w)) under.add(p.pid);
  return all.filter((p) => !watchdogs.has(p.pid) && !under.has(p.pid)).map((p) => p.pid);
}

/** Waits until `list()` has `count` processes and has not changed for SETTLE_MS. */
async function settled(list: () => number[], count: number, what: string): Promise<number[]> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  let last = '';
  let since = performance.now();
  for (;;) {
    const pids = list();
    const key = pids.join(',');
    if (key !== last) {
      last = key;
      since = performance.now();
    } else if (pids.length === count && performance.now() - since >= SETTLE_MS) {
      return pids;
    }
    if (performance.now() > deadline) throw new Error(`${what}: ${pids.length} of ${count} processes`);
    await pause(20);
  }
}

interface Deaths {
  /** When every process was gone but the stubborn ones: how soon the stop signal arrived. */
  readonly others: number | undefined;
  /** When the last process was gone. */
  readonly last: number | undefined;
}

/**
 * Polls every millisecond until every pid is gone; ms from `since` until all but `stubborn` were
 * gone, and until all were. Undefined at the timeout (the survivors are then killed).
 */
async function deaths(
  pids: readonly number[],
  stubborn: ReadonlySet<number>,
  since: number,
): Promise<Deaths> {
  let remaining = [...pids];
  let others: number | undefined;
  for (;;) {
    remaining = remaining.filter((pid) => {
      const stat = readStat(pid);
      return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
    });
    const now = performance.now();
    if (others === undefined && remaining.every((pid) => stubborn.has(pid))) others = now - since;
    if (remaining.length === 0) return { others, last: now - since };
    if (now - since > GONE_TIMEOUT_MS) {
      killAll(remaining);
      return { others, last: undefined };
    }
    await pause(1);
  }
}

/** The children of the stubborn component's shell (those that ignore SIGTERM). */
function stubbornOf(pids: readonly number[]): Set<number> {
  const shell = pids.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes("trap ''");
    } catch {
      return false;
    }
  });
  return new Set(pids.filter((pid) => readStat(pid)?.ppid === shell));
}

/** One Corral run of `n` components, SIGKILLed once settled. */
async function measureCorral(n: number, dir: string): Promise<Deaths> {
  const out = openSync('/dev/null', 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [CORRAL_BIN, 'run', '-f', stackFile(dir, n), '--log-format', 'json'], {
      cwd: dir,
      stdio: ['ignore', out, 'inherit'],
    });
  } finally {
    closeSync(out);
  }
  const pid = child.pid ?? -1;
  started.add(pid);
  try {
    const pids = await settled(() => componentProcesses(pid), expected(n), `corral with ${n}`);
    for (const p of pids) started.add(p);
    const stubborn = stubbornOf(pids);
    const killedAt = performance.now();
    child.kill('SIGKILL');
    return await deaths(pids, stubborn, killedAt);
  } finally {
    child.kill('SIGKILL');
    await pause(50);
    // The watchdog and its helpers end on their own; anything else left is killed by pid.
    killAll(componentProcesses(pid));
  }
}

/** The floor: the same trees, each in its own session, SIGKILLed group by group by this bench. */
async function measureFloor(n: number): Promise<Deaths> {
  const leaders = Array.from({ length: n }, (_, i) =>
    spawn('/bin/sh', ['-c', i === 0 ? STUBBORN : PLAIN], { detached: true, stdio: 'ignore' }),
  );
  const pids = leaders.map((l) => l.pid ?? -1);
  for (const p of pids) started.add(p);
  const members = (): number[] =>
    listProcesses()
      .filter((p) => pids.includes(p.pgid) && live(p))
      .map((p) => p.pid)
      .sort((a, b) => a - b);
  const all = await settled(members, expected(n), `floor with ${n}`);
  const killedAt = performance.now();
  for (const pgid of pids) process.kill(-pgid, 'SIGKILL');
  return deaths(all, new Set(), killedAt);
}

function startHogs(): number[] {
  return [0, 1].map(() => {
    // In sessions of their own: with autogroup scheduling, each then competes with every other
    // session (the watchdog's, the components'), rather than with this bench alone.
    const hog = spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore', detached: true });
    started.add(hog.pid ?? -1);
    return hog.pid ?? -1;
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const format = (ms: number): string => `${Math.round(ms)} ms`;

interface Row {
  load: string;
  n: number;
  corral: Deaths[];
  floor: Deaths[];
}

const dir = mkdtempSync(join(tmpdir(), 'corral-bench-sigkill-'));
const rows: Row[] = [];
console.log(
  `load average at the start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
try {
  for (const load of ['idle', '2 CPU hogs']) {
    for (const n of SIZES) {
      const row: Row = { load, n, corral: [], floor: [] };
      rows.push(row);
      for (let r = 0; r < REPEATS; r++) {
        const hogs = load === 'idle' ? [] : startHogs();
        try {
          row.corral.push(await measureCorral(n, dir));
          row.floor.push(await measureFloor(n));
        } finally {
          killAll(hogs);
        }
        await pause(200);
      }
      const shown = (values: Deaths[], key: keyof Deaths): string =>
        values.map((v) => (v[key] === undefined ? 'survived' : Math.round(v[key]))).join(' ');
      console.log(
        `${load}, ${n} components: corral ${shown(row.corral, 'last')} (stop signal ${shown(row.corral, 'others')}) | floor ${shown(row.floor, 'last')}`,
      );
    }
  }
} finally {
  killAll(started);
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
console.log(
  '| load | components | corral: last death, median | worst | stop signal reached, median | worst | floor median | floor worst | survived |',
);
console.log('| ---- | ---------- | ---- | ---- | ---- | ---- | ---- | ---- | ---- |');
const figures = (values: Deaths[], key: keyof Deaths): number[] =>
  values.map((v) => v[key]).filter((v): v is number => v !== undefined);
for (const { load, n, corral, floor } of rows) {
  const last = figures(corral, 'last');
  const others = figures(corral, 'others');
  const floorLast = figures(floor, 'last');
  console.log(
    `| ${load} | ${n} | ${format(median(last))} | ${format(Math.max(...last))} | ${format(median(others))} | ${format(Math.max(...others))} | ${format(median(floorLast))} | ${format(Math.max(...floorLast))} | ${corral.length - last.length} of ${corral.length} |`,
  );
}
