import type { Readable } from 'node:stream';
import { LineFormatter, type OutputFormat, type OutputStream } from './line-format.js';
import type { OutputSink } from './output-sink.js';

export { DEFAULT_MAX_LINE_BYTES, type OutputFormat, type OutputStream } from './line-format.js';
export { OutputSink, type OutputSinkOptions } from './output-sink.js';

/**
 * Forwarding a child's stdout or stderr to a destination, line by line:
 *
 *     const sink = new OutputSink(process.stdout);            // one per destination, shared
 *     const lines = new LineTap();                            // for a `log` readiness probe
 *     const forwarded = Promise.all([
 *       forwardOutput(child.stdout, { component: 'app', stream: 'stdout', format: 'prefixed', sink, lines }),
 *       forwardOutput(child.stderr, { component: 'app', stream: 'stderr', format: 'prefixed', sink, lines }),
 *     ]);
 *
 * Guarantees: lines keep their order within a stream and none is lost, including the last one
 * when it has no newline (it is terminated at the end of the stream, except in `raw`). Each write
 * to the sink holds whole lines, so components sharing a sink interleave only between lines.
 * When the sink's buffer is full the forwarder stops reading until it drains, so the child's pipe
 * fills and the child blocks in `write`: memory stays bounded by the sink's buffer, the stream's
 * buffer and one line of at most `maxLineBytes` (see {@link DEFAULT_MAX_LINE_BYTES}).
 */
export interface ForwardOptions {
  /** The component's name: the prefix in `prefixed`, the `component` field in `json`. */
  readonly component: string;
  readonly stream: OutputStream;
  /**
   * `prefixed`: `<name padded to prefixWidth> | <line>`. `json`: one pino-style record per line,
   * `{"level":30,"time":<ms since epoch>,"component":…,"stream":…,"line":…}` (`time` is when the
   * chunk holding the line was read; invalid UTF-8 becomes U+FFFD). `raw`: the bytes unchanged.
   * Writing to a file is the same with a file sink ({@link OutputSink.openFile}).
   */
  readonly format: OutputFormat;
  readonly sink: OutputSink;
  /** Width the name is padded to, so that columns align across components. @default name length */
  readonly prefixWidth?: number;
  /** ANSI colour code for the name in `prefixed` (see {@link prefixColor}); plain when unset. */
  readonly color?: number;
  /** Lines are also published here, for the `log` readiness probe; free while nobody watches. */
  readonly lines?: LineTap;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
  /** Wall-clock time for JSON records. @default Date.now */
  readonly now?: () => number;
  /**
   * Stops forwarding: the forwarder stops reading, writes what it already read (the unfinished
   * line included), destroys `source` and resolves. For a child whose descendants keep the pipe
   * open after the process group was stopped; abort only once the child is gone.
   */
  readonly signal?: AbortSignal;
}

/**
 * Forwards `source` to `options.sink` until it ends. Resolves once the stream ended (or
 * `options.signal` aborted) and everything read was written to the destination; rejects with
 * the source's error after writing what was read before it. A failing sink does not reject:
 * the sink reports its error and discards, and the forwarder keeps draining the child.
 */
export function forwardOutput(source: Readable, options: ForwardOptions): Promise<void> {
  const { sink, stream, lines, signal } = options;
  const now = options.now ?? Date.now;
  const formatter = new LineFormatter(options);
  const publish = lines ? (line: string): void => lines.publish(line, stream) : undefined;

  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (error?: Error): void => {
      if (finished) return;
      finished = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      sink.write(formatter.end(now(), lines?.watched ? publish : undefined));
      void sink.flushed().then(() => {
        if (error === undefined) resolve();
        else reject(error);
      });
    };
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (sink.write(formatter.push(bytes, now(), lines?.watched ? publish : undefined))) return;
      // Back-pressure: stop reading until the destination drains; the child's pipe fills meanwhile.
      source.pause();
      void sink.drained().then(() => {
        if (!finished) source.resume();
      });
    };
    const onEnd = (): void => {
      finish();
    };
    const onError = (error: Error): void => {
      finish(error);
    };
    const onAbort = (): void => {
      finish();
      source.destroy();
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}

/** Receives each line (decoded as UTF-8, without its line ending) and the stream it came from. */
export type LineListener = (line: string, stream: OutputStream) => void;

/**
 * A fan-out of forwarded lines. Forwarders publish to it; watchers (the `log` readiness probe)
 * subscribe. Lines are only decoded while at least one watcher is subscribed, so an unwatched tap
 * costs nothing. Lines forwarded before a watcher subscribed are not replayed: subscribe before
 * the child's output starts flowing (in the same tick as creating the forwarders).
 */
export class LineTap {
  #listeners = new Set<LineListener>();

  /** Subscribes; returns the function that unsubscribes (idempotent). */
  watch(listener: LineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether anyone is watching. */
  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  /** Hands a line to every watcher. A watcher that throws is ignored, as it must not stop output. */
  publish(line: string, stream: OutputStream): void {
    for (const listener of this.#listeners) {
      try {
        listener(line, stream);
      } catch {
        // A broken watcher must not break the forwarding it observes.
      }
    }
  }
}

/** A palette of distinguishable ANSI colours for prefixes; `prefixColor(i)` cycles through it. */
const PREFIX_COLORS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94] as const;

/** The prefix colour for the `index`-th component, cycling through a fixed palette. */
export function prefixColor(index: number): number {
  return PREFIX_COLORS[Math.abs(index) % PREFIX_COLORS.length] ?? 36;
}
