/**
 * Runtime overhead: start and stop 1,000 in-process components that just await their signal.
 * Prints the median and worst of 20 runs for time-to-all-ready, time-to-all-stopped, and heap per
 * component (measured after a forced GC with everything running).
 * Goal: each phase under 50 ms, under 2 KB of heap per component.
 *
 *   node --expose-gc --import tsx bench/runtime.ts [--chain]
 *
 * With `--chain`, each component depends on the one before it and every other one is a one-shot
 * step that has finished by the time the stack is ready: the stop then has to walk the whole
 * chain through finished components, which is where a non-linear stop order would show.
 */
import { fromFunction, Manager } from '../src/index.js';

const COMPONENTS = 1_000;
const RUNS = 20;
const CHAIN = process.argv.includes('--chain');

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function waitAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function once(): Promise<{ readyMs: number; stopMs: number; heapPerComponent: number }> {
  gc?.();
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const manager = new Manager();
  for (let i = 0; i < COMPONENTS; i++) {
    const oneShot = CHAIN && i % 2 === 1;
    const options = CHAIN && i > 0 ? { dependsOn: [`c${i - 1}`], oneShot } : {};
    manager.add(fromFunction(`c${i}`, oneShot ? () => Promise.resolve() : waitAbort, options));
  }
  const stop = new AbortController();
  let allReady!: () => void;
  const ready = new Promise<void>((resolve) => (allReady = resolve));
  let readyCount = 0;
  manager.on((event) => {
    // A one-shot step is ready once it has finished.
    const done = event.type === 'component.ready' || (CHAIN && event.type === 'component.completed');
    if (done && ++readyCount === COMPONENTS + (CHAIN ? COMPONENTS >> 1 : 0)) allReady();
  });
  const t0 = performance.now();
  const run = manager.run(stop.signal);
  await ready;
  const readyMs = performance.now() - t0;
  gc?.();
  gc?.();
  const heapPerComponent = (process.memoryUsage().heapUsed - heapBefore) / COMPONENTS;
  const t1 = performance.now();
  stop.abort();
  await run;
  const stopMs = performance.now() - t1;
  return { readyMs, stopMs, heapPerComponent };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

// Heap is measured in a fresh process per run: in a long-lived one, garbage and V8's object-layout
// feedback from earlier runs make the difference between two heap readings unreliable.
if (process.argv.includes('--heap-once')) {
  const { heapPerComponent } = await once();
  process.stdout.write(`${heapPerComponent}\n`);
  process.exit(0);
}
const heap: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1] ?? '', '--heap-once']);
  heap.push(Number(out.toString()));
}

await once(); // warm-up, not counted
const results = [];
for (let i = 0; i < RUNS; i++) results.push(await once());

const row = (label: string, values: number[], unit: string, goal: number): string => {
  const med = median(values);
  const worst = Math.max(...values);
  return `${label.padEnd(22)} median ${med.toFixed(1).padStart(7)} ${unit}  worst ${worst.toFixed(1).padStart(7)} ${unit}  goal < ${goal} ${unit}  ${worst < goal ? 'met' : med < goal ? 'median met' : 'MISSED'}`;
};
console.log(`${COMPONENTS} components${CHAIN ? ' in a chain' : ''}, ${RUNS} runs (node ${process.version})`);
console.log(
  row(
    'time to all ready',
    results.map((r) => r.readyMs),
    'ms',
    50,
  ),
);
console.log(
  row(
    'time to all stopped',
    results.map((r) => r.stopMs),
    'ms',
    50,
  ),
);
console.log(
  row(
    'heap per component',
    results.map((r) => r.heapPerComponent / 1024),
    'KB',
    2,
  ),
);
