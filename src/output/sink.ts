import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Writable } from 'node:stream';
import { notify } from '../util/notify.js';
import type { OutputEvent } from './events.js';

export interface OutputSinkOptions {
  /** How events name the destination: a file's path, `stdout`… @default 'output' */
  readonly name?: string;
  /**
   * Called once, with the error that ended a stream destination for good (EPIPE when the reader
   * of Corral's stdout went away). From then on the sink discards what it is given, so forwarders
   * keep draining their children instead of stalling them. File destinations never end so.
   */
  readonly onError?: (error: Error) => void;
  /** Receives the sink's reports of dropped lines. */
  readonly onEvent?: (event: OutputEvent) => void;
  /** `close()` closes the destination; set for destinations the sink opened itself. @default false */
  readonly owned?: boolean;
}

/** Where the newest bytes left the destination in the middle of a line, and whose line it is. */
interface OpenLine {
  /** The writer whose line it is; `undefined` when nobody will finish it (a torn write). */
  readonly source: string | undefined;
  /** That writer has ended, so it will not finish the line either. */
  ended: boolean;
}

/** Per writer: lines dropped in all, and in the current outage. */
interface Drops {
  total: number;
  outage: number;
}

/**
 * One destination shared by any number of writers (for instance every component writing to
 * Corral's stdout, or to one log file). Each `write` carries whole lines and writes reach the
 * destination in order, so writers interleave only at line boundaries; a line a writer left
 * unterminated (at its end, or torn by a failed write) is terminated before anyone else's bytes
 * follow it.
 *
 * Two kinds of destination:
 * - A stream (a pipe, socket or terminal, e.g. `process.stdout`): writes are asynchronous, with
 *   back-pressure (`write` returns false; wait for {@link drained}), so a slow reader slows the
 *   writers and, through their pipes, the children. An error ends it for good (see `onError`).
 * - A file descriptor (a regular file, `/dev/null`): each write is one synchronous write(2),
 *   as Node itself writes stdout to a file. A write that fails (a full disk) drops its lines,
 *   counted per writer and reported as {@link OutputEvent}s, and the next write tries again, so
 *   writing resumes by itself when space returns.
 */
export class OutputSink {
  /** Exactly one of the two is set. */
  readonly #stream: Writable | undefined;
  readonly #fd: number | undefined;
  readonly #name: string;
  readonly #owned: boolean;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #onEvent: ((event: OutputEvent) => void) | undefined;
  /** Writers waiting for `drain`; all released by the next one (or by an error). */
  #drainWaiters: (() => void)[] = [];
  /** Writes handed to the stream, and how many of them it has reported written. */
  #issued = 0;
  #written = 0;
  /** Waiters for `#written` to reach a given count, in increasing count order. */
  #flushWaiters: { until: number; resolve: () => void }[] = [];
  #openLine: OpenLine | undefined;
  /** Drops per writer (`''` for bytes written without one), and whether an outage is on. */
  readonly #drops = new Map<string, Drops>();
  #failing = false;
  #error: Error | undefined;
  #closed = false;

  /**
   * `destination` is a Writable, or `{ fd }`: a file descriptor written with synchronous
   * write(2) calls (for regular files and devices; never for a pipe or socket, which Node may
   * have made non-blocking).
   */
  constructor(destination: Writable | { readonly fd: number }, options: OutputSinkOptions = {}) {
    this.#name = options.name ?? 'output';
    this.#owned = options.owned ?? false;
    this.#onError = options.onError;
    this.#onEvent = options.onEvent;
    // A stream may have an `fd` too (process.stdout has), but it is written as a stream: Node
    // may have made its descriptor non-blocking, where a synchronous write fails with EAGAIN.
    if (!isWritable(destination)) {
      this.#fd = destination.fd;
      this.#stream = undefined;
      this.#openLine = endsMidLine(destination.fd) ? { source: undefined, ended: true } : undefined;
      return;
    }
    this.#stream = destination;
    this.#fd = undefined;
    destination.on('drain', () => this.#releaseDrainWaiters());
    destination.on('error', (error: Error) => this.#fail(error));
    destination.on('close', () => {
      this.#releaseDrainWaiters();
      this.#releaseFlushWaiters(true);
    });
  }

  /**
   * A sink appending to the file at `path` (created with mode 0644 when missing). Opens it before
   * returning, so a bad path fails here rather than at the first line.
   */
  static openFile(path: string, options: Omit<OutputSinkOptions, 'owned' | 'name'> = {}): OutputSink {
    // Opened for reading too, to see whether the file ends in an unterminated line.
    const fd = openSync(path, 'a+', 0o644);
    return new OutputSink({ fd }, { ...options, name: path, owned: true });
  }

  /**
   * A sink for Corral's own stdout (1) or stderr (2): a file descriptor sink when it is a file or
   * device, else a stream sink over `process.stdout` / `process.stderr`.
   */
  static stdio(fd: 1 | 2, options: Omit<OutputSinkOptions, 'owned'> = {}): OutputSink {
    const named = { name: fd === 1 ? 'stdout' : 'stderr', ...options };
    if (!isatty(fd) && isFileLike(fd)) return new OutputSink({ fd }, named);
    return new OutputSink(fd === 1 ? process.stdout : process.stderr, named);
  }

  /** The error that ended a stream destination, if any; from then on writes are discarded. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Lines dropped so far per writer, in all (file destinations only; `''`: no writer named). */
  droppedLines(): ReadonlyMap<string, number> {
    return new Map([...this.#drops].map(([source, drops]) => [source, drops.total]));
  }

  /**
   * Hands bytes over, to be written in order after everything before it. `source` names the
   * writer (a component), for reports of dropped lines and for finishing its unterminated line.
   * Returns false when the destination's buffer is full: the caller should stop reading and
   * await {@link drained}.
   */
  write(chunk: Buffer, source?: string): boolean {
    if (this.#error || this.#closed || chunk.length === 0) return true;
    const before = this.#openLine;
    const bytes =
      before && (before.ended || before.source !== source) ? Buffer.concat([NEWLINE, chunk]) : chunk;
    this.#openLine = bytes.at(-1) === 10 ? undefined : { source, ended: false };
    if (this.#fd !== undefined) {
      this.#writeFd(this.#fd, chunk, bytes, source, before);
      return true;
    }
    this.#issued++;
    return this.#stream?.write(bytes, this.#onWritten) ?? true;
  }

  /**
   * Tells the sink that `source` has written its last bytes: a line it left unterminated is
   * terminated before anything else is written.
   */
  sourceEnded(source: string): void {
    if (this.#openLine?.source === source) this.#openLine.ended = true;
  }

  /** Resolves when the destination can take more (at once when it can), or when it failed. */
  drained(): Promise<void> {
    const stream = this.#stream;
    if (this.#error || !stream?.writableNeedDrain || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves when every write made so far has reached the OS (or the destination failed). */
  flushed(): Promise<void> {
    if (this.#error || this.#written >= this.#issued) return Promise.resolve();
    const until = this.#issued;
    return new Promise((resolve) => this.#flushWaiters.push({ until, resolve }));
  }

  /**
   * Waits until everything was written; reports lines still dropped in an outage that never
   * ended; then, when the sink opened the destination, closes it. Idempotent.
   */
  async close(): Promise<void> {
    await this.flushed();
    if (this.#closed) return;
    this.#closed = true;
    if (this.#failing) this.#reportDrops(false);
    if (this.#owned && this.#fd !== undefined) closeSync(this.#fd);
    const stream = this.#stream;
    if (this.#owned && stream && !stream.destroyed) await new Promise<void>((resolve) => stream.end(resolve));
  }

  /**
   * Writes `bytes` (`chunk`, perhaps after a newline) whole, or drops what did not fit; `before`
   * is the open line before them.
   */
  #writeFd(
    fd: number,
    chunk: Buffer,
    bytes: Buffer,
    source: string | undefined,
    before: OpenLine | undefined,
  ): void {
    let at = 0;
    try {
      // A regular file takes a whole write unless the disk is full; loop for partial writes.
      while (at < bytes.length) at += writeSync(fd, bytes, at);
    } catch (error) {
      // The file ends where the write stopped: as before it, at a line's end, or in a line that
      // nobody will finish (whoever writes next terminates it first).
      if (at === 0) this.#openLine = before;
      else this.#openLine = bytes[at - 1] === 10 ? undefined : { source: undefined, ended: true };
      // A newline put in front to end someone else's line is not a line of this writer.
      const added = bytes.length - chunk.length;
      this.#drop(bytes.subarray(Math.max(at, added)), source, error as Error);
      return;
    }
    if (this.#failing) this.#reportDrops(true);
  }

  /** Counts the lines of `rest`, which a failed write did not write, against `source`. */
  #drop(rest: Buffer, source: string | undefined, error: Error): void {
    let lines = rest.at(-1) === 10 ? 0 : 1;
    for (let at = rest.indexOf(10); at !== -1; at = rest.indexOf(10, at + 1)) lines++;
    const key = source ?? '';
    const drops = this.#drops.get(key) ?? { total: 0, outage: 0 };
    this.#drops.set(key, drops);
    const first = drops.outage === 0;
    drops.total += lines;
    drops.outage += lines;
    this.#failing = true;
    if (first) this.#emit({ type: 'output.dropping', component: source, destination: this.#name, error });
  }

  #reportDrops(resumed: boolean): void {
    this.#failing = false;
    for (const [key, drops] of this.#drops) {
      if (drops.outage === 0) continue;
      const lines = drops.outage;
      drops.outage = 0;
      this.#emit({
        type: 'output.dropped',
        component: key === '' ? undefined : key,
        destination: this.#name,
        lines,
        resumed,
      });
    }
  }

  #emit(event: OutputEvent): void {
    notify(this.#onEvent, event);
  }

  readonly #onWritten = (error?: Error | null): void => {
    if (error) this.#fail(error);
    this.#written++;
    this.#releaseFlushWaiters(false);
  };

  #fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    this.#releaseDrainWaiters();
    this.#releaseFlushWaiters(true);
    this.#onError?.(error);
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #releaseFlushWaiters(all: boolean): void {
    while (this.#flushWaiters.length > 0) {
      const first = this.#flushWaiters[0];
      if (!first || (!all && first.until > this.#written)) break;
      this.#flushWaiters.shift();
      first.resolve();
    }
  }
}

const NEWLINE = Buffer.from('\n');

function isWritable(destination: Writable | { readonly fd: number }): destination is Writable {
  return typeof (destination as Partial<Writable>).write === 'function';
}

/** A regular file or a device (not a pipe, socket or terminal): written synchronously by fd. */
function isFileLike(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFile() || stat.isCharacterDevice() || stat.isBlockDevice();
  } catch {
    return false;
  }
}

/** Whether the regular file open at `fd` ends without a newline (a line left unterminated). */
function endsMidLine(fd: number): boolean {
  try {
    const { size } = fstatSync(fd);
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10;
  } catch {
    // Not readable (opened for appending only) or not a file: nothing to finish.
    return false;
  }
}
