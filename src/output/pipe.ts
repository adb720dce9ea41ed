import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '../core/errors.js';

/**
 * A cheaper pipe for a child's stdout or stderr than `stdio: 'pipe'`, where Node reads each chunk
 * into a fresh buffer, copies it and pushes it through the Readable machinery. An OutputPipe is a
 * connected pair of Unix stream sockets (the channel libuv makes for 'pipe'): the child gets one
 * end in its stdio, and Corral reads the other with `onread` into one buffer shared by every pipe.
 * Sharing is safe because each read is handed to its consumer synchronously and the consumer
 * copies what it keeps (see forwardOutput). The pair is made through a listening socket in a fresh
 * 0700 directory under the system temp directory, so no other user can connect in between; both
 * go away once the pairs are made.
 */
export class OutputPipe {
  /** Corral's copy of the child's end, until released (dropping it frees the socket and its server). */
  #childEnd: Socket | undefined;
  readonly #reader: Socket;
  /** Chunks that arrived before a consumer attached (copied; reading pauses meanwhile). */
  #pending: Buffer[] = [];
  #consumer: PipeConsumer | undefined;
  /** Set once the reader ended or failed, for a consumer that attaches late. */
  #ended: { error: Error | undefined } | undefined;

  private constructor(childEnd: Socket, reader: Socket) {
    this.#childEnd = childEnd;
    this.#reader = reader;
    // Corral never reads or writes its copy of the child's end; what happens to it until it is
    // released (a reset when the reader goes first) is no error of the component's.
    childEnd.on('error', () => undefined);
    reader.once('end', () => {
      this.#finish(undefined);
      // Closed at once: the reader is made half-open (see #pair), so Node does not first shut
      // down a write side that was never used, which costs a round trip per pipe per stop.
      reader.destroy();
    });
    reader.once('error', (error) => this.#finish(error));
  }

  /**
   * Opens `count` pipes. Rejects when they cannot be made (no writable temp directory, for
   * instance); callers then fall back to `stdio: 'pipe'` and forward the child's Readable.
   */
  static async open(count: number): Promise<OutputPipe[]> {
    const dir = mkdtempSync(join(tmpdir(), 'corral-'));
    const path = join(dir, 's');
    const server = createServer();
    try {
      server.listen(path);
      await once(server, 'listening');
      const pipes: OutputPipe[] = [];
      try {
        // One connection at a time, so that the accepted socket is the one just connected.
        for (let i = 0; i < count; i++) pipes.push(await OutputPipe.#pair(server, path));
      } catch (error) {
        for (const pipe of pipes) pipe.#close();
        throw error;
      }
      return pipes;
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  static async #pair(server: Server, path: string): Promise<OutputPipe> {
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    // Nothing can arrive before the pipe is made: the child that writes is not started yet.
    const made: { pipe?: OutputPipe } = {};
    const reader = connect({
      path,
      allowHalfOpen: true,
      onread: {
        buffer: SHARED_READ_BUFFER,
        callback: (bytes) => (made.pipe ? made.pipe.#onRead(bytes) : false),
      },
    });
    // Out of file descriptors, libuv accepts a connection into a spare descriptor and closes it
    // without telling the server: the reader then ends instead of being accepted, and waiting
    // for the accept alone would wait forever.
    let onDropped: ((error?: Error) => void) | undefined;
    const dropped = new Promise<never>((_, reject) => {
      onDropped = (error) => {
        reject(
          error ?? new CorralError('OUTPUT_PIPE_DROPPED', 'an output pipe was closed before it was accepted'),
        );
      };
      for (const event of DROPPED_EVENTS) reader.once(event, onDropped);
    });
    try {
      await Promise.race([once(reader, 'connect'), dropped]);
      made.pipe = new OutputPipe(await Promise.race([accepted, dropped]), reader);
    } catch (error) {
      reader.destroy();
      throw error;
    } finally {
      for (const event of DROPPED_EVENTS) if (onDropped) reader.removeListener(event, onDropped);
    }
    return made.pipe;
  }

  /**
   * Closes Corral's copy of the child's end; call it once `spawn` returned (whether or not the
   * child started). From then on the pipe ends when the child and every descendant that
   * inherited the end have closed it.
   */
  releaseChildEnd(): void {
    this.#childEnd?.destroy();
    this.#childEnd = undefined;
  }

  /**
   * The end the child writes to: put it in `spawn`'s `stdio`, then call {@link releaseChildEnd}.
   * Throws once released.
   */
  get childEnd(): Socket {
    if (!this.#childEnd) throw new Error("the child's end of this OutputPipe was released");
    return this.#childEnd;
  }

  /**
   * Attaches the one consumer: `onChunk` gets every chunk (valid only during the call) and
   * returns false to pause reading; `onEnd` is called once, at the end or on a read error.
   */
  consume(onChunk: (chunk: Buffer) => boolean, onEnd: (error?: Error) => void): PipeControl {
    if (this.#consumer) throw new Error('an OutputPipe has only one consumer');
    this.#consumer = { onChunk, onEnd };
    const pending = this.#pending;
    this.#pending = [];
    let paused = false;
    for (const chunk of pending) paused = !onChunk(chunk) || paused;
    if (this.#ended) onEnd(this.#ended.error);
    else if (!paused) this.#reader.resume();
    return {
      resume: () => this.#reader.resume(),
      destroy: () => this.#close(),
    };
  }

  #close(): void {
    this.#reader.destroy();
    this.releaseChildEnd();
  }

  #onRead(bytes: number): boolean {
    const chunk = SHARED_READ_BUFFER.subarray(0, bytes);
    if (this.#consumer) return this.#consumer.onChunk(chunk);
    this.#pending.push(Buffer.from(chunk));
    return false;
  }

  #finish(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = { error };
    this.#consumer?.onEnd(error);
  }
}

/** How a reader that is never accepted shows (see #pair). */
const DROPPED_EVENTS = ['end', 'close', 'error'] as const;

interface PipeConsumer {
  readonly onChunk: (chunk: Buffer) => boolean;
  readonly onEnd: (error?: Error) => void;
}

/** What a consumer can do with the pipe it reads. */
export interface PipeControl {
  /** Resumes reading after `onChunk` returned false. */
  resume(): void;
  /** Stops reading for good and closes both of Corral's ends. */
  destroy(): void;
}

/**
 * The buffer every OutputPipe reads into. 64 KiB: as much as a pipe holds, and small enough that
 * the string made of a chunk stays in V8's young generation (larger ones go to the large-object
 * space, which maps fresh pages for each one).
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
