import type { LogLine } from './protocol.js';

export interface LogBufferOptions {
  /** Bytes of output kept per component; the oldest go first. @default 1 MiB */
  readonly bytes?: number;
}

/** A piece of output with its place in the order every component's output arrived in. */
interface Kept {
  readonly output: Buffer;
  readonly seq: number;
}

/** Bounds the count of Buffers kept per component too: each may hold on to a larger pooled slab. */
const MAX_PIECES = 4096;
const NEWLINE = 10;

/** One component's recent output, oldest first, within the bounds. */
class Recent {
  readonly #pieces: Kept[] = [];
  #head = 0;
  #bytes = 0;

  push(piece: Kept, maxBytes: number): void {
    this.#pieces.push(piece);
    this.#bytes += piece.output.length;
    while (this.#count > 1 && (this.#bytes > maxBytes || this.#count > MAX_PIECES)) {
      this.#bytes -= this.#pieces[this.#head]?.output.length ?? 0;
      this.#head++;
    }
    // Drops what was shifted out in one go, now and then, instead of shifting the array per piece.
    if (this.#head > MAX_PIECES) {
      this.#pieces.splice(0, this.#head);
      this.#head = 0;
    }
  }

  get #count(): number {
    return this.#pieces.length - this.#head;
  }

  /** The pieces that hold the last `n` lines, the first cut to start where they start. */
  last(n: number): Kept[] {
    const found: Kept[] = [];
    let lines = 0;
    for (let i = this.#pieces.length - 1; i >= this.#head && lines < n; i--) {
      const piece = this.#pieces[i];
      if (!piece) break;
      // Every piece holds whole lines (the forwarder writes them so): count them from its end.
      let end = piece.output.length - 1;
      let start: number;
      for (;;) {
        // A negative offset would count from the end: the first line has no newline before it.
        const before = end > 0 ? piece.output.lastIndexOf(NEWLINE, end - 1) : -1;
        lines++;
        if (lines === n || before === -1) {
          start = before + 1;
          break;
        }
        end = before;
      }
      found.push(start === 0 ? piece : { output: piece.output.subarray(start), seq: piece.seq });
    }
    return found.reverse();
  }
}

/**
 * The recent output of every component, for `corral logs`, as the run wrote it (prefixed, or JSON
 * records, whole lines): bounded per component, so a chatty component costs at most that, and kept
 * by name, so across restarts and reloads. It takes output a chunk at a time and splits lines only
 * when asked, so keeping it costs the run next to nothing per line. Followers get every chunk as it
 * comes.
 */
export class LogBuffer {
  readonly #maxBytes: number;
  readonly #recent = new Map<string, Recent>();
  readonly #followers = new Set<(line: LogLine) => void>();
  #seq = 0;

  constructor(options: LogBufferOptions = {}) {
    this.#maxBytes = Math.max(1, options.bytes ?? 1024 * 1024);
  }

  /** What to give component `name`'s forwarder: it keeps each chunk written (see ForwardOptions.copy). */
  copyOf(name: string): (output: Buffer) => void {
    return (output) => this.#add(name, output);
  }

  /**
   * The last `n` lines of each of `names` (every component when empty), in the order they came,
   * as pieces of whole lines. Names without output give nothing.
   */
  recent(names: readonly string[], n: number): LogLine[] {
    if (n === 0) return [];
    const chosen = names.length > 0 ? names : [...this.#recent.keys()];
    const pieces = chosen.flatMap((component) =>
      (this.#recent.get(component)?.last(n) ?? []).map((piece) => ({ component, ...piece })),
    );
    return pieces
      .sort((a, b) => a.seq - b.seq)
      .map(({ component, output }) => ({ component, text: output.toString() }));
  }

  /** Calls `listener` with the output of `names` (every component when empty) from now on. */
  follow(names: readonly string[], listener: (line: LogLine) => void): () => void {
    const wanted = new Set(names);
    const follower = (line: LogLine): void => {
      if (wanted.size === 0 || wanted.has(line.component)) listener(line);
    };
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  #add(component: string, output: Buffer): void {
    let recent = this.#recent.get(component);
    if (!recent) this.#recent.set(component, (recent = new Recent()));
    recent.push({ output, seq: this.#seq++ }, this.#maxBytes);
    if (this.#followers.size === 0) return;
    const line = { component, text: output.toString() };
    for (const follower of this.#followers) follower(line);
  }
}
