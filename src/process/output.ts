import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ComponentContext } from '../core/component.js';
import {
  forwardOutput,
  type ForwardProgress,
  type LineTap,
  OutputPipe,
  OutputSink,
  type OutputFormat,
  type OutputStream,
} from '../output/forward.js';
import type { StdioTarget } from './spawn.js';

/**
 * How a process component's output is wired: where it goes ({@link OutputTarget}), forwarding
 * both streams while the child runs, and the wait at the end until everything was forwarded.
 */

/** Where a component's output goes. */
export type OutputTarget =
  /** Forwarded line by line to sinks (shared by components), in a format. */
  | {
      readonly stdout: OutputSink;
      /** @default the stdout sink */
      readonly stderr?: OutputSink;
      /** @default 'prefixed' */
      readonly format?: OutputFormat;
      readonly prefixWidth?: number;
      readonly color?: number;
    }
  /** The child writes straight to Corral's own stdout and stderr: no prefix, no cost. */
  | 'inherit'
  | 'ignore';

/**
 * How long a pipe may stay open without anything to read once the process group (and cgroup) is
 * empty. Only a process that escaped both, and still holds the pipe, keeps it open that long;
 * then reading stops. Time spent waiting for a slow destination does not count.
 */
const OUTPUT_GRACE_MS = 2_000;

/** What a child writes to, and what Corral then reads: an OutputPipe, or the child's Readable. */
type Source = Readable | OutputPipe | null;

/** How a child's stdout and stderr are connected, for one run (see {@link connectOutput}). */
export interface OutputConnection {
  /** For the spawn's stdio. */
  readonly stdout: StdioTarget;
  readonly stderr: StdioTarget;
  /** Closes Corral's copies of the child's ends; call once the spawn settled, failed or not. */
  release(): void;
  /** What to forward once the child runs. */
  sources(child: ChildProcess): readonly [Source, Source];
}

/**
 * Connects a child's output for `target`. Forwarded output goes through OutputPipes, which
 * Corral reads with less CPU and memory than `stdio: 'pipe'` (see output/pipe.ts); where they
 * cannot be made (no writable temp directory), through `stdio: 'pipe'`. 'inherit' and 'ignore'
 * are passed to the spawn as they are.
 */
export async function connectOutput(target: OutputTarget): Promise<OutputConnection> {
  const [stdout, stderr] = typeof target === 'string' ? [] : await OutputPipe.open(2).catch(() => []);
  if (stdout && stderr) {
    return {
      stdout: stdout.childEnd,
      stderr: stderr.childEnd,
      release: () => {
        // The child has its own copies now (or none, if it did not start): the pipes then end
        // when the child's side closes them.
        stdout.releaseChildEnd();
        stderr.releaseChildEnd();
      },
      sources: () => [stdout, stderr],
    };
  }
  const stdio = typeof target === 'string' ? target : 'pipe';
  return {
    stdout: stdio,
    stderr: stdio,
    release: () => undefined,
    sources: (child) => [child.stdout, child.stderr],
  };
}

/** Both streams being forwarded: see {@link forward}. */
export interface Forwarding {
  /** Resolves when both ended; never rejects. */
  readonly done: Promise<unknown>;
  readonly progress: readonly ForwardProgress[];
}

/** Starts forwarding both streams (when piped). */
export function forward(
  [stdout, stderr]: readonly [Source, Source],
  target: OutputTarget,
  common: { component: string; lines: LineTap; signal: AbortSignal; copy?: (formatted: Buffer) => void },
): Forwarding {
  if (typeof target === 'string') return { done: Promise.resolve(), progress: [] };
  const progress: ForwardProgress[] = [];
  const one = (source: Source, stream: OutputStream, sink: OutputSink): Promise<unknown> => {
    if (!source) return Promise.resolve();
    const state = { lastActivity: performance.now(), waitingForSink: false };
    progress.push(state);
    return forwardOutput(source, {
      ...common,
      stream,
      sink,
      progress: state,
      format: target.format ?? 'prefixed',
      prefixWidth: target.prefixWidth,
      color: target.color,
    }).catch((error: unknown) => error);
  };
  const done = Promise.all([
    one(stdout, 'stdout', target.stdout),
    one(stderr, 'stderr', target.stderr ?? target.stdout),
  ]);
  return { done, progress };
}

/**
 * Waits for the output to be forwarded to the end. The process group is empty by now, so the
 * pipes end as soon as the destination has taken what they hold, unless a process that escaped
 * the group (and any cgroup) still holds one: once a pipe has had nothing to read for
 * {@link OUTPUT_GRACE_MS}, reading stops and a warning says so. A destination that takes long
 * (a stalled reader of Corral's stdout) is waited for, and said so once.
 */
export async function flush(
  forwarding: Forwarding,
  stopReading: AbortController,
  component: string,
  ctx: ComponentContext,
): Promise<void> {
  const warn = (code: string, message: string): void =>
    ctx.emit({ type: 'warning', code, component, message });
  const finished = forwarding.done.then(() => true);
  const start = performance.now();
  let blockedReported = false;
  for (;;) {
    const now = performance.now();
    const waitingForSink = forwarding.progress.some((p) => p.waitingForSink);
    const lastActivity = Math.max(start, ...forwarding.progress.map((p) => p.lastActivity));
    if (!waitingForSink && now - lastActivity >= OUTPUT_GRACE_MS) break;
    if (waitingForSink && now - lastActivity >= OUTPUT_GRACE_MS && !blockedReported) {
      blockedReported = true;
      warn(
        'OUTPUT_BLOCKED',
        `component \`${component}\` has exited, but the rest of its output waits for its destination to take it`,
      );
    }
    const wait = waitingForSink ? OUTPUT_GRACE_MS : lastActivity + OUTPUT_GRACE_MS - now;
    if (await Promise.race([finished, sleep(Math.max(1, wait), false, { ref: false })])) return;
  }
  warn(
    'OUTPUT_HELD',
    `a process of component \`${component}\` outside its process group still holds its output; stopped reading it`,
  );
  stopReading.abort();
  await forwarding.done;
}
