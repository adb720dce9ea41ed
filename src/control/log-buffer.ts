import { LineTap } from '../output/line-tap.js';
import type { LogLine } from './protocol.js';

export interface LogBufferOptions {
  /** Lines kept per component. @default 1000 */
  readonly lines?: number;
  /** Characters kept per component, lines included whole; the oldest go first. @default 1 MiB */
  readonly chars?: number;
}

/** A line with its place in the order all components' lines arrived in. */
interface Kept extends LogLine {
  readonly seq: number;
}

/** One component's recent lines, oldest first, within both bounds. */
class Recent {
  readonly lines: Kept[] = [];
  #head = 0;
  #chars = 0;

  push(line: Kept, maxLines: number, maxChars: number): void {
    this.lines.push(line);
    this.#chars += line.text.length;
    while (
      this.lines.length - this.#head > maxLines ||
      (this.#chars > maxChars && this.lines.length - this.#head > 1)
    ) {
      this.#chars -= this.lines[this.#head]?.text.length ?? 0;
      this.#head++;
    }
    // Drops what was shifted out in one go, now and then, instead of shifting the array per line.
    if (this.#head > maxLines) {
      this.lines.splice(0, this.#head);
      this.#head = 0;
    }
  }

  last(n: number): Kept[] {
    return this.lines.slice(Math.max(this.#head, this.lines.length - n));
  }
}

/**
 * The recent output lines of every component, for `corral logs`: bounded per component (lines and
 * characters), so a chatty component costs at most that, and kept across its restarts and
 * reloads, since they are kept by name. Followers get every line as it comes.
 */
export class LogBuffer {
  readonly #maxLines: number;
  readonly #maxChars: number;
  readonly #recent = new Map<string, Recent>();
  readonly #taps = new Map<string, LineTap>();
  readonly #followers = new Set<(line: LogLine) => void>();
  #seq = 0;

  constructor(options: LogBufferOptions = {}) {
    this.#maxLines = Math.max(1, options.lines ?? 1000);
    this.#maxChars = Math.max(1, options.chars ?? 1024 * 1024);
  }

  /** The tap to give component `name`'s output to (the same one each time it is asked for). */
  tap(name: string): LineTap {
    let tap = this.#taps.get(name);
    if (!tap) {
      tap = new LineTap();
      tap.watch((text, stream) =>
        this.#add({ component: name, stream, text, time: Date.now(), seq: this.#seq++ }),
      );
      this.#taps.set(name, tap);
    }
    return tap;
  }

  /**
   * The last `n` lines of each of `names` (every component when empty), in the order they came.
   * Names without output give nothing.
   */
  recent(names: readonly string[], n: number): LogLine[] {
    if (n === 0) return [];
    const chosen = names.length > 0 ? names : [...this.#recent.keys()];
    const lines = chosen.flatMap((name) => this.#recent.get(name)?.last(n) ?? []);
    return lines.sort((a, b) => a.seq - b.seq).map(({ seq: _seq, ...line }) => line);
  }

  /** Calls `listener` with every line of `names` (every component when empty) from now on. */
  follow(names: readonly string[], listener: (line: LogLine) => void): () => void {
    const wanted = new Set(names);
    const follower = (line: LogLine): void => {
      if (wanted.size === 0 || wanted.has(line.component)) listener(line);
    };
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  #add(line: Kept): void {
    let recent = this.#recent.get(line.component);
    if (!recent) this.#recent.set(line.component, (recent = new Recent()));
    recent.push(line, this.#maxLines, this.#maxChars);
    if (this.#followers.size === 0) return;
    const { seq: _seq, ...shown } = line;
    for (const follower of this.#followers) follower(shown);
  }
}
