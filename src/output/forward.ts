import type { Readable } from 'node:stream';
import { LineFormatter, type LineFormatOptions } from './line-format.js';
import type { LineTap } from './line-tap.js';
import { OutputPipe, type PipeControl } from './pipe.js';
import type { OutputSink } from './sink.js';

export { DEFAULT_MAX_LINE_BYTES, type OutputFormat, type OutputStream } from './line-format.js';
export { LineTap, type LineListener } from './line-tap.js';
export { OutputPipe, type PipeControl } from './pipe.js';
export type { OutputEvent } from './events.js';
export { OutputSink, type OutputSinkOptions } from './sink.js';

/**
 * Forwarding a child's stdout or stderr to a destination (an OutputSink, one per destination,
 * shared by components), line by line; process/output.ts wires it for a process component.
 * Guarantees: lines keep their order within a stream and none is lost, including the last one
 * when it has no newline (it is terminated at the end of the stream, except in `raw`, where the
 * sink terminates it before anything else follows it). Each write to the sink holds whole lines,
 * so components sharing a sink interleave only between lines. When the sink's buffer is full the
 * forwarder stops reading until it drains, so the child's pipe fills and the child blocks in
 * `write`: memory stays bounded by the sink's buffer, the stream's buffer and one line of at most
 * `maxLineBytes` (see {@link DEFAULT_MAX_LINE_BYTES}).
 */
export interface ForwardOptions extends LineFormatOptions {
  /** Writing to a file is the same with a file sink ({@link OutputSink.openFile}). */
  readonly sink: OutputSink;
  /** Lines are also published here, for the `log` readiness probe; free while nobody watches. */
  readonly lines?: LineTap;
  /** Wall-clock time for JSON records. @default Date.now */
  readonly now?: () => number;
  /**
   * Stops forwarding: the forwarder stops reading, writes what it already read (the unfinished
   * line included), destroys `source` and resolves. For a child whose descendants keep the pipe
   * open after the process group was stopped; abort only once the child is gone.
   */
  readonly signal?: AbortSignal;
  /** Kept up to date by the forwarder, for a caller that must tell a starved source from a full sink. */
  readonly progress?: ForwardProgress;
  /**
   * Also gets each Buffer written to the sink (whole lines, formatted), for a buffer of recent
   * output. It must not change the Buffer; one call per chunk read, not per line.
   */
  readonly copy?: (formatted: Buffer) => void;
}

/** How a forwarder is getting on; see {@link ForwardOptions.progress}. */
export interface ForwardProgress {
  /** `performance.now()` when it last read a chunk, or resumed reading after the sink drained. */
  lastActivity: number;
  /** It is waiting for the sink to drain: a wait that is the destination's doing, not the source's. */
  waitingForSink: boolean;
}

/**
 * Forwards `source` (an OutputPipe, or any Readable such as a child's `stdout`) to
 * `options.sink` until it ends. Resolves once the stream ended (or
 * `options.signal` aborted) and everything read was written to the destination; rejects with
 * the source's error after writing what was read before it. A failing sink does not reject:
 * the sink reports its error and discards, and the forwarder keeps draining the child.
 */
export function forwardOutput(source: Readable | OutputPipe, options: ForwardOptions): Promise<void> {
  const { sink, stream, lines, signal, component, progress, copy } = options;
  // Only JSON records carry a time: other formats skip the clock on every chunk.
  const now = options.format === 'json' ? (options.now ?? Date.now) : () => 0;
  const formatter = new LineFormatter(options);
  const publish = (line: string): void => lines?.publish(line, stream);

  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      const last = formatter.end(now(), lines?.watched ? publish : undefined);
      if (last.length > 0) copy?.(last);
      sink.write(last, component);
      sink.sourceEnded(component);
      void sink.flushed().then(() => {
        if (error === undefined) resolve();
        else reject(error);
      });
    };
    const onChunk = (chunk: Buffer): boolean => {
      if (progress) progress.lastActivity = performance.now();
      // The formatter copies what it keeps: the chunk's memory may be reused after this call.
      const out = formatter.push(chunk, now(), lines?.watched ? publish : undefined);
      if (out.length > 0) copy?.(out);
      if (sink.write(out, component)) return true;
      // Back-pressure: stop reading until the destination drains; the child's pipe fills meanwhile.
      if (progress) progress.waitingForSink = true;
      void sink.drained().then(() => {
        if (progress) {
          progress.waitingForSink = false;
          progress.lastActivity = performance.now();
        }
        if (!finished) input.resume();
      });
      return false;
    };
    const onAbort = (): void => {
      finish();
      input.destroy();
    };
    if (signal?.aborted) {
      finish();
      // Never read: released as it is.
      if (source instanceof OutputPipe) source.releaseChildEnd();
      else source.destroy();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    // Called back only after this returns (a drain, an abort): `input` is set by then.
    const input = consume(source, onChunk, finish);
  });
}

/**
 * Reads `source`, whichever kind of stream it is, as {@link OutputPipe.consume} does: `onChunk`
 * returns false to pause until `resume`; `onEnd` is called once.
 */
function consume(
  source: Readable | OutputPipe,
  onChunk: (chunk: Buffer) => boolean,
  onEnd: (error?: Error) => void,
): PipeControl {
  if (source instanceof OutputPipe) return source.consume(onChunk, onEnd);
  let ended = false;
  const end = (error?: Error): void => {
    if (ended) return;
    ended = true;
    source.off('data', onData);
    onEnd(error);
  };
  const onData = (chunk: Buffer | string): void => {
    if (!onChunk(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) source.pause();
  };
  source.on('data', onData);
  source.once('end', () => end());
  source.once('error', end);
  return { resume: () => source.resume(), destroy: () => source.destroy() };
}

/** A palette of distinguishable ANSI colours for prefixes; `prefixColor(i)` cycles through it. */
const PREFIX_COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94] as const;

/** The prefix colour for the `index`-th component, cycling through a fixed palette. */
export function prefixColor(index: number): number {
  return PREFIX_COLORS[Math.abs(index) % PREFIX_COLORS.length] ?? 36;
}
