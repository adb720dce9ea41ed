import { Writable } from 'node:stream';
import type { Logger, pino as createPino } from 'pino';
import { describeEvent, eventLevel, pinoEventLogger } from '../adapters/pino.js';
import { formatMs } from '../runtime/errors.js';
import type { CorralEvent } from '../runtime/events.js';
import type { ComponentStatus } from '../runtime/entry.js';
import { OutputSink } from '../process/output.js';
import type { StopReport } from './report.js';

export type LogFormat = 'pretty' | 'json';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const LEVEL_RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/**
 * Everything `corral run` shows. Pretty: one line per event and prefixed component output, plus on
 * a TTY a live block at the bottom with a line per component (state, pid, uptime, readiness).
 * JSON: one pino record per event, one record per output line, and one per component in the stop
 * report. Nothing else in the CLI writes to stdout while a run is on.
 */
export interface Renderer {
  readonly format: LogFormat;
  /** Where components' stdout and stderr lines go. */
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
  event(event: CorralEvent & { time: number }): void;
  /** A message of the CLI's own (not tied to an event). */
  say(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** Prints the stop report and stops the live view. */
  finish(report: StopReport): void;
}

export interface RendererOptions {
  format: LogFormat;
  level: LogLevel;
  /** Show the live view (pretty on a terminal). */
  live: boolean;
  status: () => ComponentStatus[];
}

export async function createRenderer(options: RendererOptions): Promise<Renderer> {
  if (options.format === 'pretty') return prettyRenderer(options);
  // pino is imported for JSON output only: a run keeps whatever it imported in memory (issue 3).
  const { pino } = await import('pino');
  return jsonRenderer(options, pino);
}

function jsonRenderer({ level }: RendererOptions, pino: typeof createPino): Renderer {
  // Synchronous writes to fd 1, like the output sink's, keep records and output lines in order.
  const logger: Logger = pino({ level, base: { name: 'corral' } }, pino.destination({ fd: 1, sync: true }));
  const logEvent = pinoEventLogger(logger);
  return {
    format: 'json',
    stdout: new OutputSink(process.stdout),
    stderr: new OutputSink(process.stdout),
    event: logEvent,
    say: (lvl, message, fields) => logger[lvl](fields ?? {}, message),
    finish(report) {
      const now = Date.now();
      for (const row of report.rows())
        logger.info({ event: 'stop.report', ...row }, `stop report: ${row.component}`);
      logger.info({ event: 'stop.summary', shutdownMs: report.totalMs(now) }, 'stopped');
    },
  };
}

function prettyRenderer({ level, live, status }: RendererOptions): Renderer {
  const out = process.stdout;
  const color = out.isTTY && !process.env.NO_COLOR;
  const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const pids = new Map<string, number>();
  const startedAt = new Map<string, number>();
  /** Components draining now: shown as such, since their state is still `ready`. */
  const draining = new Set<string>();
  let blockLines = 0;
  let finished = false;

  const block = (): string[] => {
    const now = Date.now();
    const rows = status();
    const width = Math.max(0, ...rows.map((r) => r.name.length));
    return rows.map((r) => {
      const pid = pids.get(r.name);
      const since = startedAt.get(r.name);
      const running = ['starting', 'ready', 'stopping', 'restarting'].includes(r.state);
      const state = draining.has(r.name)
        ? paint(36, 'draining'.padEnd(10))
        : paint(STATE_COLORS[r.state], r.state.padEnd(10));
      return `  ${r.name.padEnd(width)}  ${state}  ${pid ? `pid ${pid}`.padEnd(11) : ''.padEnd(11)}  ${
        running && since !== undefined ? `up ${formatMs(now - since)}`.padEnd(10) : ''.padEnd(10)
      }  ${r.state === 'ready' ? 'ready' : 'not ready'}`;
    });
  };
  const clear = (): void => {
    if (blockLines > 0) out.write(`\x1b[${blockLines}F\x1b[J`);
    blockLines = 0;
  };
  const draw = (): void => {
    if (!live || finished) return;
    const lines = block();
    out.write(`${lines.join('\n')}\n`);
    blockLines = lines.length;
  };
  /** Writes whole lines above the live block. */
  const print = (text: string): void => {
    clear();
    out.write(text);
    draw();
  };
  const ticker = live ? setInterval(() => print(''), 1_000) : undefined;
  ticker?.unref();

  const sinkStream = (target: NodeJS.WriteStream): Writable =>
    live
      ? new Writable({
          write(chunk: Buffer, _encoding, callback) {
            clear();
            target.write(chunk);
            draw();
            callback();
          },
        })
      : target;

  const time = (t: number): string => paint(2, new Date(t).toISOString().slice(11, 23));
  const say = (lvl: LogLevel, message: string): void => {
    if (LEVEL_RANK[lvl] < LEVEL_RANK[level]) return;
    const tag = lvl === 'error' || lvl === 'fatal' ? paint(31, lvl) : lvl === 'warn' ? paint(33, lvl) : '';
    print(`${time(Date.now())} ${paint(1, 'corral')} ${tag ? `${tag} ` : ''}${message}\n`);
  };
  return {
    format: 'pretty',
    stdout: new OutputSink(sinkStream(process.stdout)),
    stderr: new OutputSink(live ? sinkStream(process.stdout) : process.stderr),
    event(event) {
      if (event.type === 'process.spawned') pids.set(event.component, event.pid);
      if (event.type === 'component.starting') startedAt.set(event.component, event.time);
      if (event.type === 'component.draining') draining.add(event.component);
      if (event.type === 'component.drained') draining.delete(event.component);
      say(eventLevel(event), describeEvent(event));
    },
    say,
    finish(report) {
      if (ticker) clearInterval(ticker);
      clear();
      finished = true;
      out.write(`${report.format()}\n`);
    },
  };
}

const STATE_COLORS: Record<ComponentStatus['state'], number> = {
  pending: 2,
  starting: 33,
  ready: 32,
  stopping: 33,
  stopped: 2,
  failed: 31,
  restarting: 35,
};
