import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ComponentContext } from '../runtime/component.js';
import {
  forwardOutput,
  type LineTap,
  OutputPipe,
  OutputSink,
  type OutputFormat,
  type OutputStream,
} from './output.js';
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
  /** Discarded. */
  | 'ignore';

/**
 * How long output may keep flowing once the process group (and cgroup) is empty. Only a process
 * that escaped both, and still holds the pipe, keeps it open that long; then reading stops.
 */
const OUTPUT_GRACE_MS = 2_000;

let defaultSinks: { stdout: OutputSink; stderr: OutputSink } | undefined;

/** The target of components given none: prefixed lines, stdout to Corral's stdout, stderr to its stderr. */
export function defaultOutput(): OutputTarget {
  defaultSinks ??= { stdout: new OutputSink(process.stdout), stderr: new OutputSink(process.stderr) };
  return defaultSinks;
}

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
 * Corral reads with less CPU and memory than `stdio: 'pipe'` (see output-pipe.ts); where they
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

/** Starts forwarding both streams (when piped). Resolves when both ended; never rejects. */
export function forward(
  [stdout, stderr]: readonly [Source, Source],
  target: OutputTarget,
  common: { component: string; lines: LineTap; signal: AbortSignal },
): Promise<unknown> {
  if (typeof target === 'string') return Promise.resolve();
  const one = (source: Source, stream: OutputStream, sink: OutputSink): Promise<unknown> =>
    source
      ? forwardOutput(source, {
          ...common,
          stream,
          sink,
          format: target.format ?? 'prefixed',
          ...(target.prefixWidth === undefined ? {} : { prefixWidth: target.prefixWidth }),
          ...(target.color === undefined ? {} : { color: target.color }),
        }).catch((error: unknown) => error)
      : Promise.resolve();
  return Promise.all([
    one(stdout, 'stdout', target.stdout),
    one(stderr, 'stderr', target.stderr ?? target.stdout),
  ]);
}

/**
 * Waits for the output to be forwarded to the end. The process group is empty by now, so the
 * pipes close at once, unless a process that escaped the group (and any cgroup) still holds
 * one: after {@link OUTPUT_GRACE_MS}, reading stops and a warning says so.
 */
export async function flush(
  forwarded: Promise<unknown>,
  stopReading: AbortController,
  component: string,
  ctx: ComponentContext,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), OUTPUT_GRACE_MS);
  });
  try {
    if (await Promise.race([forwarded.then(() => false), timedOut])) {
      ctx.emit({
        type: 'warning',
        code: 'OUTPUT_HELD',
        component,
        message: `a process of component \`${component}\` outside its process group still holds its output; stopped reading it`,
      });
      stopReading.abort();
      await forwarded;
    }
  } finally {
    clearTimeout(timer);
  }
}
