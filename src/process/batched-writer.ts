import { writeSync } from 'node:fs';

/**
 * Synchronous writes to a file descriptor, gathered into batches of up to 256 KiB.
 *
 * A forwarder produces one write per chunk read from a child, tens of KiB each; at 200 MB of
 * logs per second the write(2) calls alone then cost more CPU than the formatting. Copying the
 * chunks into one buffer and writing it once is far cheaper (a copy is a tenth of a system call
 * here). A batch is written when the next chunk would not fit, at the end of the current turn
 * of the event loop (so lines reach the file within one turn), when someone waits for a flush,
 * and when the process exits. Writes reach the file in the order they were made.
 */
export class BatchedWriter {
  readonly #fd: number;
  readonly #onError: (error: Error) => void;
  readonly #batch = Buffer.allocUnsafe(BATCH_BYTES);
  /** Bytes waiting in `#batch`. */
  #length = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #stopped = false;
  /** Writes the batch if the process exits before the scheduled flush runs. */
  readonly #onExit = (): void => {
    this.flush();
  };

  constructor(fd: number, onError: (error: Error) => void) {
    this.#fd = fd;
    this.#onError = onError;
    process.on('exit', this.#onExit);
  }

  /** Takes a copy of `chunk` (the caller may reuse its memory at once). */
  write(chunk: Buffer): void {
    if (this.#stopped) return;
    if (chunk.length > BATCH_BYTES - this.#length) this.flush();
    if (chunk.length >= BATCH_BYTES) {
      this.#writeAll(chunk);
      return;
    }
    chunk.copy(this.#batch, this.#length);
    this.#length += chunk.length;
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      this.flush();
    });
  }

  /** Writes the pending batch now. */
  flush(): void {
    if (this.#length === 0) return;
    const pending = this.#batch.subarray(0, this.#length);
    this.#length = 0;
    this.#writeAll(pending);
  }

  /** Flushes and stops: later writes are dropped. Does not close the descriptor. */
  stop(): void {
    this.flush();
    this.#stopped = true;
    if (this.#scheduled) clearImmediate(this.#scheduled);
    process.off('exit', this.#onExit);
  }

  #writeAll(bytes: Buffer): void {
    try {
      // A regular file takes a whole write unless the disk is full; loop for partial writes.
      for (let at = 0; at < bytes.length;) at += writeSync(this.#fd, bytes, at);
    } catch (error) {
      this.#stopped = true;
      this.#onError(error as Error);
    }
  }
}

const BATCH_BYTES = 256 * 1024;
