import { Writable } from 'node:stream';
import { createLogUpdate } from 'log-update';
import { formatMs } from '../core/errors.js';
import type { CorralEvent } from '../events.js';
import { isRunning, type ComponentStatus } from '../core/entry.js';

/**
 * The live block at the bottom of a terminal: a line per component (state, pid, uptime,
 * readiness), redrawn below whatever is written through {@link LiveView.stream} and once a second.
 * log-update erases and redraws it, rows wrapped at the terminal's width counted as the lines they
 * take. Terminal writes are synchronous in Node, so erasing, writing and redrawing never interleave
 * with anything else.
 */
export class LiveView {
  readonly stream: Writable;
  readonly #status: () => ComponentStatus[];
  readonly #block: ReturnType<typeof createLogUpdate>;
  readonly #pids = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();
  /** Components draining now: shown as such, since their state is still `ready`. */
  readonly #draining = new Set<string>();
  readonly #ticker: NodeJS.Timeout;
  #paint: (code: number, text: string) => string = (_code, text) => text;
  #stopped = false;

  constructor(terminal: NodeJS.WriteStream, status: () => ComponentStatus[]) {
    this.#status = status;
    // The cursor stays visible: hiding it would make log-update restore it from exit and signal
    // handlers of its own, and signals are Corral's to handle.
    this.#block = createLogUpdate(sized(terminal), { showCursor: true });
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.#block.clear();
        terminal.write(chunk);
        this.#draw();
        callback();
      },
    });
    // A terminal that fails (hung up) ends the stream, and with it the sink written through it.
    terminal.on('error', (error: Error) => this.stream.destroy(error));
    this.#ticker = setInterval(() => this.#draw(), 1_000);
    this.#ticker.unref();
  }

  observe(event: CorralEvent & { time: number }, paint: (code: number, text: string) => string): void {
    this.#paint = paint;
    if (event.type === 'process.spawned') this.#pids.set(event.component, event.pid);
    if (event.type === 'component.starting') this.#startedAt.set(event.component, event.time);
    if (event.type === 'component.draining') this.#draining.add(event.component);
    if (event.type === 'component.drained') this.#draining.delete(event.component);
  }

  /** Removes the block for good. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#block.clear();
    this.#block.done();
    this.#stopped = true;
  }

  #draw(): void {
    if (!this.#stopped) this.#block(this.#rows().join('\n'));
  }

  #rows(): string[] {
    const now = Date.now();
    const rows = this.#status();
    const width = Math.max(0, ...rows.map((r) => r.name.length));
    const paint = this.#paint;
    return rows.map((r) => {
      const pid = this.#pids.get(r.name);
      const shownPid = pid ? `pid ${pid}` : '';
      const since = this.#startedAt.get(r.name);
      const up = isRunning(r.state) && since !== undefined ? `up ${formatMs(now - since)}` : '';
      const state = this.#draining.has(r.name)
        ? paint(36, 'draining'.padEnd(10))
        : paint(STATE_COLORS[r.state], r.state.padEnd(10));
      const ready = r.state === 'ready' ? 'ready' : 'not ready';
      return `  ${r.name.padEnd(width)}  ${state}  ${shownPid.padEnd(11)}  ${up.padEnd(10)}  ${ready}`;
    });
  }
}

/**
 * `terminal` as log-update sees it, with a size of 0 (a pty nobody gave a size, a serial console)
 * taken as unknown: log-update would draw nothing in zero rows.
 */
function sized(terminal: NodeJS.WriteStream): NodeJS.WriteStream {
  return Object.create(terminal, {
    columns: { get: () => terminal.columns || DEFAULT_SIZE.columns },
    rows: { get: () => terminal.rows || DEFAULT_SIZE.rows },
  }) as NodeJS.WriteStream;
}

const DEFAULT_SIZE = { columns: 80, rows: 24 };

const STATE_COLORS: Record<ComponentStatus['state'], number> = {
  pending: 2,
  starting: 33,
  ready: 32,
  stopping: 33,
  stopped: 2,
  failed: 31,
  restarting: 35,
};
