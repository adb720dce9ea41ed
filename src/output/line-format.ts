/**
 * Turning a child's output bytes into complete, formatted lines, one chunk at a time. A chunk's
 * complete lines are formatted as one run, straight from the chunk: only a line that began in an
 * earlier chunk is joined with its carried start. In `prefixed`, a run free of control characters
 * is decoded once and gets its prefixes from one replace; lines that carry escape sequences are
 * neutralised one by one (see terminal-text.ts). `raw` passes the bytes through as they are.
 */
import { needsNeutralising, neutralise, runNeedsNeutralising } from './terminal-text.js';

/**
 * How forwarded lines are written. `prefixed`: `<name padded to prefixWidth> | <line>`. `json`:
 * one pino-style record per line, `{"level":30,"time":<ms since epoch>,"component":…,"stream":…,
 * "line":…}` (`time` is when the chunk holding the line was read; invalid UTF-8 becomes U+FFFD).
 * `raw`: the bytes unchanged.
 */
export type OutputFormat = 'prefixed' | 'json' | 'raw';

/** Which of the child's streams a line came from. */
export type OutputStream = 'stdout' | 'stderr';

/**
 * The longest line forwarded as one line, in bytes (without its newline). A longer line is cut
 * into pieces of at most this size, so a child that never writes a newline cannot make Corral
 * buffer without bound. Cuts fall on UTF-8 character boundaries where possible, and are marked:
 * in `prefixed` every piece after a line's first has `+` instead of `|` after the name; in `json`
 * every piece but a line's last has `"partial":true`; in `raw` the pieces are the line's bytes,
 * written one after the other.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface LineFormatOptions {
  readonly format: OutputFormat;
  /** The component's name: the prefix in `prefixed`, the `component` field in `json`. */
  readonly component: string;
  readonly stream: OutputStream;
  /** Width the name is padded to in `prefixed`. @default component.length */
  readonly prefixWidth?: number;
  /**
   * ANSI foreground colour code (e.g. 36 for cyan) for the name in `prefixed`. Setting it also
   * keeps the child's own colours in `prefixed`; without it they are removed like every other
   * escape sequence.
   */
  readonly color?: number;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

type OnLine = ((line: string) => void) | undefined;

const EMPTY = Buffer.alloc(0);
const NEWLINE = 10;

/**
 * Stateful: keeps the unfinished last line of a stream between chunks (never more than
 * `maxLineBytes`). Every Buffer returned holds only complete lines or marked pieces of an
 * over-long one (in `raw`, also the final unterminated line), so writers sharing a destination
 * interleave at line boundaries. Returned Buffers never share memory with the chunk given.
 */
export class LineFormatter {
  readonly #format: OutputFormat;
  readonly #maxLineBytes: number;
  readonly #colors: boolean;
  /** `prefixed`: the prefix of a line, and of a piece that continues a cut line. */
  readonly #prefix: string;
  readonly #continuation: string;
  /** `prefixed`: what a newline between two lines becomes, as a `replaceAll` replacement. */
  readonly #newlineReplacement: string;
  /** `json`: everything of a record between the time and the line. */
  readonly #jsonMiddle: string;
  /** Bytes of the current unfinished line; at most `maxLineBytes` long. */
  #carry: Buffer = EMPTY;
  /** The carried bytes continue a line that was cut. */
  #continues = false;

  constructor(options: LineFormatOptions) {
    this.#format = options.format;
    this.#maxLineBytes = Math.max(4, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.#colors = options.color !== undefined;
    const name = options.component.padEnd(options.prefixWidth ?? 0);
    const coloured = options.color === undefined ? name : `\x1b[${options.color}m${name}\x1b[0m`;
    this.#prefix = `${coloured} | `;
    this.#continuation = `${coloured} + `;
    // `$` is special in a replacement (`$&` is the match): a name may hold one.
    this.#newlineReplacement = `\n${this.#prefix.replaceAll('$', '$$$$')}`;
    // pino's layout (level, time first) so these records sit among Corral's own pino logs.
    this.#jsonMiddle = `,"component":${JSON.stringify(options.component)},"stream":"${options.stream}","line":`;
  }

  /**
   * Takes the next chunk of the stream and returns the formatted lines it finished (an empty
   * Buffer when it finished none). `onLine`, when given, receives every finished line or piece,
   * decoded as UTF-8 (invalid bytes become U+FFFD) and without its line ending; `time` is the
   * JSON `time`.
   */
  push(chunk: Buffer, time: number, onLine?: OnLine): Buffer {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) return this.#hold(chunk, time, onLine);
    if (this.#format === 'raw') return this.#pushRaw(chunk, last, time, onLine);
    let text = '';
    let from = 0;
    if (this.#carry.length > 0) {
      // Only the line that began in an earlier chunk is joined: a character may straddle the cut.
      const first = chunk.indexOf(NEWLINE);
      text = this.#formatLines(
        Buffer.concat([this.#carry, chunk.subarray(0, first)]),
        this.#continues,
        time,
        onLine,
      );
      from = first + 1;
    }
    this.#carry = EMPTY;
    this.#continues = false;
    if (from <= last) text += this.#formatLines(chunk.subarray(from, last), false, time, onLine);
    text += this.#holdText(chunk.subarray(last + 1), time, onLine);
    return Buffer.from(text, 'utf8');
  }

  /** Ends the stream: returns the unfinished last line, terminated (except in `raw`), or nothing. */
  end(time: number, onLine?: OnLine): Buffer {
    const last = this.#carry;
    const continues = this.#continues;
    this.#carry = EMPTY;
    this.#continues = false;
    if (last.length === 0) return EMPTY;
    onLine?.(decode(last));
    // The carry is the formatter's own copy: it can be handed over as it is.
    if (this.#format === 'raw') return last;
    return Buffer.from(this.#formatText(last.toString('utf8'), continues, false, time), 'utf8');
  }

  /**
   * `raw`: the bytes unchanged, up to the chunk's last newline, after what was carried; only
   * lines longer than the cap are seen in pieces (by `onLine`).
   */
  #pushRaw(chunk: Buffer, last: number, time: number, onLine: OnLine): Buffer {
    const lines = chunk.subarray(0, last + 1);
    // One copy either way: the chunk's memory may be reused once this returns.
    const out = this.#carry.length === 0 ? Buffer.from(lines) : Buffer.concat([this.#carry, lines]);
    if (onLine) this.#eachPiece(out.subarray(0, -1), this.#continues, (piece) => onLine(decode(piece)));
    this.#carry = EMPTY;
    this.#continues = false;
    const held = this.#hold(chunk.subarray(last + 1), time, onLine);
    return held.length === 0 ? out : Buffer.concat([out, held]);
  }

  /**
   * Keeps `bytes` (no newline in them) as the unfinished line, cutting off and returning capped
   * pieces, formatted, while it is longer than the cap.
   */
  #hold(bytes: Buffer, time: number, onLine: OnLine): Buffer {
    if (this.#format !== 'raw') {
      const text = this.#holdText(bytes, time, onLine);
      return text === '' ? EMPTY : Buffer.from(text, 'utf8');
    }
    const pieces = this.#cutCarry(bytes);
    if (onLine) for (const piece of pieces) onLine(decode(piece));
    // The bytes as they are: a cut piece goes on in the next one, so no newline is added.
    return pieces.length === 0 ? EMPTY : Buffer.concat(pieces);
  }

  /** {@link #hold} for `prefixed` and `json`: the pieces cut off, formatted. */
  #holdText(bytes: Buffer, time: number, onLine: OnLine): string {
    const continues = this.#continues;
    const pieces = this.#cutCarry(bytes);
    let out = '';
    for (const [i, piece] of pieces.entries()) {
      onLine?.(decode(piece));
      out += this.#formatText(piece.toString('utf8'), continues || i > 0, true, time);
    }
    return out;
  }

  /** Appends `bytes` to the carry and cuts capped pieces off its start; returns them. */
  #cutCarry(bytes: Buffer): Buffer[] {
    if (bytes.length === 0) return [];
    let line = this.#carry.length === 0 ? bytes : Buffer.concat([this.#carry, bytes]);
    const pieces: Buffer[] = [];
    while (line.length > this.#maxLineBytes) {
      const cut = utf8Cut(line, this.#maxLineBytes);
      pieces.push(line.subarray(0, cut));
      this.#continues = true;
      line = line.subarray(cut);
    }
    // Copied, not a view: a view would keep the whole chunk's memory alive for a few bytes.
    this.#carry = Buffer.from(line);
    return pieces;
  }

  /**
   * Formats `lines` (`prefixed` or `json`): complete lines separated by newlines, the last one's
   * newline left off. The first continues a cut line when `continues`. Over-long lines are cut
   * into pieces.
   */
  #formatLines(lines: Buffer, continues: boolean, time: number, onLine: OnLine): string {
    if (this.#hasLongLine(lines)) {
      let out = '';
      this.#eachPiece(lines, continues, (piece, pieceContinues, cut) => {
        onLine?.(decode(piece));
        out += this.#formatText(piece.toString('utf8'), pieceContinues, cut, time);
      });
      return out;
    }
    const text = lines.toString('utf8');
    if (onLine) for (const line of text.split('\n')) onLine(withoutCR(line));
    if (this.#format === 'prefixed' && !runNeedsNeutralising(text)) {
      const head = continues ? this.#continuation : this.#prefix;
      return `${head}${text.replaceAll('\n', this.#newlineReplacement)}\n`;
    }
    const split = text.split('\n');
    let out = '';
    for (let i = 0; i < split.length; i++) {
      out += this.#formatText(split[i] ?? '', continues && i === 0, false, time);
    }
    return out;
  }

  /**
   * Whether a line of `lines` is longer than the cap: whether some stretch of cap + 1 bytes holds
   * no newline. Found a cap's length at a time, from newline to newline, not line by line.
   */
  #hasLongLine(lines: Buffer): boolean {
    const cap = this.#maxLineBytes;
    for (let from = 0; lines.length - from > cap;) {
      const newline = lines.lastIndexOf(NEWLINE, from + cap);
      if (newline < from) return true;
      from = newline + 1;
    }
    return false;
  }

  /**
   * Calls `each` with every line of `lines` (as for {@link #formatLines}) or, for an over-long
   * one, every piece of it: whether the piece continues a cut line, and whether it is cut itself.
   */
  #eachPiece(
    lines: Buffer,
    continues: boolean,
    each: (piece: Buffer, continues: boolean, cut: boolean) => void,
  ): void {
    for (let from = 0; from <= lines.length;) {
      const newline = lines.indexOf(NEWLINE, from);
      const to = newline === -1 ? lines.length : newline;
      let start = from;
      let pieceContinues = continues && from === 0;
      while (to - start > this.#maxLineBytes) {
        const cut = start + utf8Cut(lines.subarray(start, to), this.#maxLineBytes);
        each(lines.subarray(start, cut), pieceContinues, true);
        pieceContinues = true;
        start = cut;
      }
      each(lines.subarray(start, to), pieceContinues, false);
      from = to + 1;
    }
  }

  /** One line or piece (decoded, without its newline) in `prefixed` or `json`, with a newline. */
  #formatText(text: string, continues: boolean, cut: boolean, time: number): string {
    if (this.#format === 'json') {
      const partial = cut ? ',"partial":true' : '';
      return `{"level":30,"time":${time}${this.#jsonMiddle}${JSON.stringify(withoutCR(text))}${partial}}\n`;
    }
    // A final CR is the line's own ending (CRLF), which a terminal shows as nothing.
    const cr = text.endsWith('\r') ? '\r' : '';
    const line = cr ? text.slice(0, -1) : text;
    const clean = needsNeutralising(line) ? neutralise(line, this.#colors) : line;
    return `${continues ? this.#continuation : this.#prefix}${clean}${cr}\n`;
  }
}

/**
 * Where to cut `bytes` (UTF-8) near `at` so that no character is split: backs up over at most
 * three continuation bytes; gives `at` itself when that would leave nothing before the cut.
 */
function utf8Cut(bytes: Buffer, at: number): number {
  for (let cut = at; cut > 0 && cut > at - 4; cut--) {
    if (((bytes[cut] ?? 0) & 0xc0) !== 0x80) return cut;
  }
  return at;
}

/** `text` less one final CR. */
function withoutCR(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** `bytes` decoded as UTF-8 (invalid sequences become U+FFFD), less one final CR. */
function decode(bytes: Buffer): string {
  return withoutCR(bytes.toString('utf8'));
}
