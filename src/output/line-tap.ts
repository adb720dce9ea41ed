import { notify } from '../util/notify.js';
import type { OutputStream } from './line-format.js';

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

  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  /** Hands a line to every watcher. A watcher that throws is ignored, as it must not stop output. */
  publish(line: string, stream: OutputStream): void {
    for (const listener of this.#listeners) notify(listener, line, stream);
  }
}
