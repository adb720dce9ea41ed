import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';

export interface OutputSinkOptions {
  /**
   * Called once, with the first error the destination reports (EPIPE when Corral's stdout was
   * closed, ENOSPC, …). From then on the sink discards what it is given, so forwarders keep
   * draining their children instead of stalling them.
   */
  readonly onError?: (error: Error) => void;
  /** `close()` ends the stream; set for streams the sink opened itself. @default false */
  readonly owned?: boolean;
}

export interface OpenFileOptions extends Omit<OutputSinkOptions, 'owned'> {
  /** Write synchronously, as Node writes process.stdout to a file. @default false */
  readonly sync?: boolean;
}

/**
 * One destination shared by any number of forwarders (for instance every component writing to
 * Corral's stdout, or to one log file). Each `write` carries complete lines and a Writable
 * keeps writes in order, so components interleave only at line boundaries. The sink adds what
 * forwarders need around a Writable: one shared `drain` listener however many forwarders wait
 * (no listener-leak warnings with hundreds of components), a way to wait until everything handed
 * over was written, and error containment.
 *
 * Note: Node writes to process.stdout and process.stderr synchronously when they are files,
 * pipes or terminals on Linux, so a slow reader of Corral's stdout blocks Corral's event loop
 * rather than filling memory; the children are then slowed by their full pipes.
 */
export class OutputSink {
  readonly #stream: Writable;
  readonly #owned: boolean;
  readonly #onError: ((error: Error) => void) | undefined;
  /** Forwarders waiting for `drain`; all released by the next one (or by an error). */
  #drainWaiters: (() => void)[] = [];
  /** Writes handed to the stream, and how many of them it has reported written. */
  #issued = 0;
  #written = 0;
  /** Waiters for `#written` to reach a given count, in increasing count order. */
  #flushWaiters: { until: number; resolve: () => void }[] = [];
  #error: Error | undefined;

  constructor(stream: Writable, options: OutputSinkOptions = {}) {
    this.#stream = stream;
    this.#owned = options.owned ?? false;
    this.#onError = options.onError;
    stream.on('drain', () => {
      this.#releaseDrainWaiters();
    });
    stream.on('error', (error: Error) => {
      this.#fail(error);
    });
    stream.on('close', () => {
      this.#releaseDrainWaiters();
      this.#releaseFlushWaiters(true);
    });
  }

  /**
   * A sink appending to the file at `path` (created with mode 0644 when missing). Opens it
   * before returning, so a bad path fails here rather than at the first line.
   */
  static openFile(path: string, options: OpenFileOptions = {}): OutputSink {
    const fd = openSync(path, 'a', 0o644);
    // A large buffer lets the stream batch chunks into one writev instead of pausing every reader
    // after each 64 KiB chunk; it is still a bound, so a stalled disk stops the readers.
    const stream = options.sync
      ? new SyncFileStream(fd)
      : createWriteStream('', { fd, highWaterMark: 1024 * 1024 });
    return new OutputSink(stream, { ...options, owned: true });
  }

  /** Whether the destination is a terminal (for the CLI's choice of colours). */
  get isTTY(): boolean {
    return (this.#stream as Writable & { isTTY?: boolean }).isTTY === true;
  }

  /** The error that made the sink discard output, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Hands bytes over, to be written in order after everything before it. Returns false when the
   * destination's buffer is full: the caller should stop reading and await {@link drained}.
   */
  write(chunk: Buffer): boolean {
    if (this.#error || chunk.length === 0) return true;
    this.#issued++;
    return this.#stream.write(chunk, this.#onWritten);
  }

  /** Resolves when the destination can take more (at once when it can), or when it failed. */
  drained(): Promise<void> {
    if (this.#error || !this.#stream.writableNeedDrain || this.#stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves when every write made so far has reached the OS (or the destination failed). */
  flushed(): Promise<void> {
    if (this.#error || this.#written >= this.#issued) return Promise.resolve();
    const until = this.#issued;
    return new Promise((resolve) => this.#flushWaiters.push({ until, resolve }));
  }

  /** Waits until everything was written; then, when the sink opened the stream, closes it. Idempotent. */
  async close(): Promise<void> {
    await this.flushed();
    if (!this.#owned || this.#stream.destroyed) return;
    await new Promise<void>((resolve) => this.#stream.end(resolve));
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

/**
 * Appends to a file descriptor with synchronous writes, the way Node writes process.stdout when
 * it is a file: no thread-pool round trip per chunk, and a slow disk blocks the writer (and so,
 * through the unread pipes, the children) instead of letting a buffer grow.
 */
class SyncFileStream extends Writable {
  readonly #fd: number;

  constructor(fd: number) {
    super({ highWaterMark: 1024 * 1024 });
    this.#fd = fd;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      // A regular file takes a whole write unless the disk is full; loop for that case's partial writes.
      for (let at = 0; at < chunk.length;) at += writeSync(this.#fd, chunk, at);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed.
    }
    callback(error);
  }
}
