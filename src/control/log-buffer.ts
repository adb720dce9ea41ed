import type { LogLine } from './protocol.js';

export interface LogBufferOptions {
  /** Bytes of output kept per component; the oldest go first. @default 1 MiB */
  readonly bytes?: number;
}

/** A piece of output: where it lies in its component's ring, and its place in the order of all output. */
interface Piece {
  /** Offset of its first byte among every byte the component wrote. */
  readonly start: number;
  readonly end: number;
  readonly seq: number;
}

/** Bounds the count of pieces kept per component, for a component that writes a line at a time. */
const MAX_PIECES = 4096;
const NEWLINE = 10;

/**
 * One component's recent output, in a ring of bytes that grows (doubling) up to `maxBytes` and then
 * overwrites the oldest. The output is copied in: keeping the forwarder's own Buffers alive for a
 * while would move each into the old generation of Node's heap, which costs more than the copy.
 */
class Recent {
  readonly #maxBytes: number;
  #ring: Buffer = Buffer.alloc(0);
  /** Bytes written so far, all told: offsets below `#total - ring size` are overwritten. */
  #total = 0;
  readonly #pieces: Piece[] = [];
  #head = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(output: Buffer, seq: number): void {
    const kept = output.length > this.#maxBytes ? output.subarray(output.length - this.#maxBytes) : output;
    const used = Math.min(this.#total, this.#ring.length);
    if (used + kept.length > this.#ring.length && this.#ring.length < this.#maxBytes) {
      this.#grow(Math.min(this.#maxBytes, Math.max(4096, 2 * this.#ring.length, used + kept.length)));
    }
    const start = this.#total + output.length - kept.length;
    this.#writeAt(start, kept);
    this.#total += output.length;
    this.#pieces.push({ start, end: this.#total, seq });
    const oldest = this.#total - this.#ring.length;
    while (this.#count > 1 && ((this.#pieces[this.#head]?.end ?? 0) <= oldest || this.#count > MAX_PIECES)) {
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

  /** The pieces that hold the last `n` lines (the first cut where they start), as Buffers with their seq. */
  last(n: number): { output: Buffer; seq: number }[] {
    const found: { output: Buffer; seq: number }[] = [];
    const oldest = this.#total - this.#ring.length;
    let lines = 0;
    for (let i = this.#pieces.length - 1; i >= this.#head && lines < n; i--) {
      const piece = this.#pieces[i];
      if (!piece) break;
      let output = this.#read(Math.max(piece.start, oldest), piece.end);
      // A piece partly overwritten starts in the middle of a line: that line is gone.
      if (piece.start < oldest) output = output.subarray(output.indexOf(NEWLINE) + 1);
      if (output.length === 0) break;
      // Every piece holds whole lines (the forwarder writes them so): count them from its end.
      let end = output.length - 1;
      let start: number;
      for (;;) {
        // A negative offset would count from the end: the first line has no newline before it.
        const before = end > 0 ? output.lastIndexOf(NEWLINE, end - 1) : -1;
        lines++;
        if (lines === n || before === -1) {
          start = before + 1;
          break;
        }
        end = before;
      }
      found.push({ output: output.subarray(start), seq: piece.seq });
    }
    return found.reverse();
  }

  /** Copies bytes `from`..`to` (offsets among all written, still in the ring) into a new Buffer. */
  #read(from: number, to: number): Buffer {
    const size = this.#ring.length;
    const out = Buffer.allocUnsafe(to - from);
    const at = from % size;
    const first = Math.min(to - from, size - at);
    this.#ring.copy(out, 0, at, at + first);
    if (first < out.length) this.#ring.copy(out, first, 0, out.length - first);
    return out;
  }

  #writeAt(offset: number, bytes: Buffer): void {
    const size = this.#ring.length;
    const at = offset % size;
    const first = Math.min(bytes.length, size - at);
    bytes.copy(this.#ring, at, 0, first);
    if (first < bytes.length) bytes.copy(this.#ring, 0, first);
  }

  #grow(size: number): void {
    const from = Math.max(0, this.#total - this.#ring.length);
    const kept = this.#ring.length > 0 ? this.#read(from, this.#total) : Buffer.alloc(0);
    this.#ring = Buffer.alloc(size);
    if (kept.length > 0) this.#writeAt(from, kept);
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
    if (!recent) this.#recent.set(component, (recent = new Recent(this.#maxBytes)));
    recent.push(output, this.#seq++);
    if (this.#followers.size === 0) return;
    const line = { component, text: output.toString() };
    for (const follower of this.#followers) follower(line);
  }
}
