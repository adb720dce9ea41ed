import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Logger, pino as createPino } from 'pino';
import { describeEvent, eventLevel, pinoEventLogger } from '../adapters/pino.js';
import type { CorralEvent } from '../events.js';
import type { ComponentStatus } from '../core/entry.js';
import { type OutputEvent, OutputSink } from '../output/forward.js';
import type { LiveView } from './live-view.js';
import type { StopReport } from './report.js';

export type LogFormat = 'pretty' | 'json';
/** In increasing order of severity. */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LEVELS)[number];

/**
 * Everything `corral run` shows. Pretty: one line per event and prefixed component output, plus on
 * a terminal a live block at the bottom with a line per component (state, pid, uptime,
 * readiness). JSON: one pino record per event, one record per output line, and one per component
 * in the stop report. Nothing else in the CLI writes to stdout while a run is on: every byte for
 * stdout goes through one sink, in order, so records are never torn and a slow reader slows the
 * components down instead of losing their lines.
 */
export interface Renderer {
  readonly format: LogFormat;
  /** Where components' stdout and stderr lines go. */
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
  /**
   * Whether output is coloured (prefixes, and a child's own colours in prefixed lines): on a
   * terminal, unless NO_COLOR is set or TERM is `dumb`.
   */
  readonly colors: boolean;
  event(event: CorralEvent & { time: number }): void;
  /** A message of the CLI's own (not tied to an event). */
  say(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /**
   * Says `message` as a plain line on Corral's stderr, whatever the format; on stdout when that
   * is where stderr goes. For what a person must see even when stdout is gone.
   */
  alert(message: string): void;
  /** Prints the stop report and stops the live view. */
  finish(report: StopReport): void;
  /**
   * Resolves to true once everything written so far has reached Corral's stdout and stderr, or
   * to false when `signal` aborts first (a reader that stopped reading).
   */
  flushed(signal: AbortSignal): Promise<boolean>;
}

export interface RendererOptions {
  format: LogFormat;
  level: LogLevel;
  status: () => ComponentStatus[];
  /**
   * Called once when Corral's stdout or stderr is gone for good (its reader closed it: EPIPE).
   * What is written there from then on is discarded.
   */
  onLost: (stream: 'stdout' | 'stderr', error: Error) => void;
  /** Reports of lines that Corral's stdout or stderr did not take (a file on a full disk). */
  onOutputEvent: (event: OutputEvent) => void;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

export async function createRenderer(options: RendererOptions): Promise<Renderer> {
  const env = options.env ?? process.env;
  const terminal = isatty(1);
  // https://no-color.org: present and not empty. A dumb terminal has no colours or cursor moves.
  const colors = terminal && !env.NO_COLOR && env.TERM !== 'dumb';
  // The live view's terminal library is imported only where there is a live view.
  const live =
    colors && options.format === 'pretty'
      ? new (await import('./live-view.js')).LiveView(process.stdout, options.status)
      : undefined;
  const sinks = stdioSinks(options, live);
  if (options.format === 'pretty') return prettyRenderer(options, sinks, colors);
  // pino is imported for JSON output only: a run keeps whatever it imported in memory.
  const { pino } = await import('pino');
  return jsonRenderer(options, sinks, pino);
}

interface StdioSinks {
  readonly out: OutputSink;
  /** `out` itself when stdout and stderr are one destination (`2>&1`), so lines never tear. */
  readonly err: OutputSink;
  /** The live view drawn below the output, when there is one. */
  readonly live: LiveView | undefined;
}

function stdioSinks(options: RendererOptions, view: LiveView | undefined): StdioSinks {
  const common = { onEvent: options.onOutputEvent };
  const onError = (stream: 'stdout' | 'stderr') => (error: Error) => options.onLost(stream, error);
  const out = view
    ? new OutputSink(view.stream, { ...common, name: 'stdout', onError: onError('stdout') })
    : OutputSink.stdio(1, { ...common, onError: onError('stdout') });
  const err = sameDestination(1, 2) ? out : OutputSink.stdio(2, { ...common, onError: onError('stderr') });
  return { out, err, live: view };
}

function jsonRenderer(
  { level }: RendererOptions,
  { out, err }: StdioSinks,
  pino: typeof createPino,
): Renderer {
  // Records go through the same sink as the components' lines, so they keep their order.
  const destination = {
    write: (record: string): void => {
      out.write(Buffer.from(record));
    },
  };
  const logger: Logger = pino({ level, base: { name: 'corral' } }, destination);
  const logEvent = pinoEventLogger(logger);
  return {
    format: 'json',
    stdout: out,
    stderr: out,
    colors: false,
    event(event) {
      logEvent(event);
      if (out !== err) alsoOnStderr(err, event);
    },
    say: (lvl, message, fields) => logger[lvl](fields ?? {}, message),
    alert: (message) => alert(err, message),
    finish(report) {
      const now = Date.now();
      for (const row of report.rows())
        logger.info({ event: 'stop.report', ...row }, `stop report: ${row.component}`);
      logger.info({ event: 'stop.summary', shutdownMs: report.totalMs(now) }, 'stopped');
    },
    flushed: (signal) => flushedBefore([out, err], signal),
  };
}

function prettyRenderer(
  { level }: RendererOptions,
  { out, err, live }: StdioSinks,
  color: boolean,
): Renderer {
  const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const print = (text: string): void => {
    out.write(Buffer.from(text));
  };
  const time = (t: number): string => paint(2, new Date(t).toISOString().slice(11, 23));
  const say = (lvl: LogLevel, message: string): void => {
    if (LEVELS.indexOf(lvl) < LEVELS.indexOf(level)) return;
    const tag = lvl === 'error' || lvl === 'fatal' ? paint(31, lvl) : lvl === 'warn' ? paint(33, lvl) : '';
    print(`${time(Date.now())} ${paint(1, 'corral')} ${tag ? `${tag} ` : ''}${message}\n`);
  };
  return {
    format: 'pretty',
    stdout: out,
    // On a terminal with the live view, stderr lines go above it too, in order.
    stderr: live ? out : err,
    colors: color,
    event(event) {
      live?.observe(event, paint);
      say(eventLevel(event), describeEvent(event));
      if (out !== err) alsoOnStderr(err, event);
    },
    say,
    alert: (message) => alert(err, message),
    finish(report) {
      live?.stop();
      print(`${report.format()}\n`);
    },
    flushed: (signal) => flushedBefore([out, err], signal),
  };
}

/**
 * Corral's stdout losing lines is said on stderr as well, when that is somewhere else: the
 * report in stdout itself may be lost with them.
 */
function alsoOnStderr(err: OutputSink, event: CorralEvent): void {
  if (
    (event.type === 'output.dropping' || event.type === 'output.dropped') &&
    event.destination === 'stdout'
  ) {
    alert(err, describeEvent(event));
  }
}

function alert(err: OutputSink, message: string): void {
  err.write(Buffer.from(`corral: ${message}\n`));
}

function flushedBefore(sinks: readonly OutputSink[], signal: AbortSignal): Promise<boolean> {
  const aborted = new Promise<boolean>((resolve) => {
    if (signal.aborted) resolve(false);
    signal.addEventListener('abort', () => resolve(false), { once: true });
  });
  return Promise.race([Promise.all(sinks.map((sink) => sink.flushed())).then(() => true), aborted]);
}

/** Whether two file descriptors lead to the same file, pipe, socket or terminal. */
function sameDestination(a: number, b: number): boolean {
  try {
    const [x, y] = [fstatSync(a), fstatSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
