import { closeSync, createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { BatchedWriter } from './batched-writer.js';

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
  /**
   * Write synchronously (as Node writes process.stdout to a file): cheaper per chunk, and a
   * slow disk then blocks Corral's event loop for the length of a write instead of a thread-pool
   * thread. With `false` writes go through an fs.WriteStream with a 1 MiB buffer.
   * @default true
   */
  readonly sync?: boolean;
}

/**
 * One destination shared by any number of forwarders (for instance every component writing to
 * Corral's stdout, or to one log file). Each `write` carries complete lines and writes reach the
 * destination in order, so components interleave only at line boundaries. Around a Writable the
 * sink adds what forwarders need: one shared `drain` listener however many forwarders wait (no
 * listener-leak warnings with hundreds of components), a way to wait until everything handed
 * over was written, and error containment. Create one sink per destination.
 *
 * Note: Node writes to process.stdout and process.stderr synchronously when they are files,
 * pipes or terminals on Linux, so a slow reader of Corral's stdout blocks Corral's event loop
 * rather than filling memory; the children are then slowed by their full pipes.
 */
export class OutputSink {
  /** Exactly one of the two is set: a stream, or a file descriptor written synchronously. */
  readonly #stream: Writable | undefined;
  readonly #fd: number | undefined;
  readonly #batched: BatchedWriter | undefined;
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
  #closed = false;

  /**
   * `destination` is a Writable, or `{ fd }`: a file descriptor written with synchronous
   * write(2) calls (for regular files; never for a pipe or socket that may be non-blocking).
   */
  constructor(destination: Writable | { readonly fd: number }, options: OutputSinkOptions = {}) {
    this.#owned = options.owned ?? false;
    this.#onError = options.onError;
    if ('fd' in destination && typeof destination.fd === 'number') {
      this.#fd = destination.fd;
      this.#batched = new BatchedWriter(destination.fd, (error) => {
        this.#fail(error);
      });
      this.#stream = undefined;
      return;
    }
    const stream = destination as Writable;
    this.#stream = stream;
    this.#fd = undefined;
    this.#batched = undefined;
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
    if (options.sync !== false) return new OutputSink({ fd }, { ...options, owned: true });
    // A large buffer lets the stream batch chunks into one writev instead of pausing every
    // reader after each 64 KiB chunk; it is still a bound, so a stalled disk stops the readers.
    const stream = createWriteStream('', { fd, highWaterMark: 1024 * 1024 });
    return new OutputSink(stream, { ...options, owned: true });
  }

  /**
   * Whether `write` is done with the Buffer by the time it returns (it was written, or copied
   * into a batch), so that the caller may reuse its memory at once. True for file descriptor
   * sinks, which write synchronously in batches (see BatchedWriter).
   */
  get writesThrough(): boolean {
    return this.#batched !== undefined;
  }

  /** Whether the destination is a terminal (for the CLI's choice of colours). */
  get isTTY(): boolean {
    const stream = this.#stream;
    return stream !== undefined && 'isTTY' in stream && stream.isTTY === true;
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
    if (this.#batched) {
      this.#batched.write(chunk);
      return true;
    }
    this.#issued++;
    return this.#stream?.write(chunk, this.#onWritten) ?? true;
  }

  /** Resolves when the destination can take more (at once when it can), or when it failed. */
  drained(): Promise<void> {
    const stream = this.#stream;
    if (this.#error || !stream?.writableNeedDrain || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves when every write made so far has reached the OS (or the destination failed). */
  flushed(): Promise<void> {
    this.#batched?.flush();
    if (this.#error || this.#written >= this.#issued) return Promise.resolve();
    const until = this.#issued;
    return new Promise((resolve) => this.#flushWaiters.push({ until, resolve }));
  }

  /** Waits until everything was written; then, when the sink opened the file, closes it. Idempotent. */
  async close(): Promise<void> {
    await this.flushed();
    if (this.#batched) {
      if (this.#closed) return;
      this.#closed = true;
      this.#batched.stop();
      if (this.#owned && this.#fd !== undefined) closeSync(this.#fd);
      return;
    }
    const stream = this.#stream;
    if (!this.#owned || !stream || stream.destroyed) return;
    await new Promise<void>((resolve) => stream.end(resolve));
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
