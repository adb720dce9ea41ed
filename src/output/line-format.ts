/**
 * Turning a child's output bytes into complete, formatted lines, one chunk at a time. A chunk's
 * complete lines are found with native searches and formatted together: in `prefixed`, a run of
 * lines free of control characters gets its prefixes from one replace over its text; lines that
 * carry escape sequences are neutralised one by one (see terminal-text.ts).
 */
import { needsNeutralising, neutralise } from './terminal-text.js';

/** How forwarded lines are written. */
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

const EMPTY = Buffer.alloc(0);
const NEWLINE = 10;

/** One line or piece of a line, ready to format. */
interface Piece {
  readonly bytes: Buffer;
  /** Continues a line that was cut before it. */
  readonly continues: boolean;
  /** Is cut: the line goes on in the next piece. */
  readonly cut: boolean;
}

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
    // pino's layout (level, time first) so these records sit among Corral's own pino logs.
    this.#jsonMiddle = `,"component":${JSON.stringify(options.component)},"stream":"${options.stream}","line":`;
  }

  /**
   * Takes the next chunk of the stream and returns the formatted lines it finished (an empty
   * Buffer when it finished none). `onLine`, when given, receives every finished line or piece,
   * decoded as UTF-8 (invalid bytes become U+FFFD) and without its line ending; `time` is the
   * JSON `time`.
   */
  push(chunk: Buffer, time: number, onLine?: (line: string) => void): Buffer {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) return this.#hold(chunk, time, onLine);
    const continues = this.#continues;
    const lines =
      this.#carry.length === 0
        ? chunk.subarray(0, last)
        : Buffer.concat([this.#carry, chunk.subarray(0, last)]);
    this.#carry = EMPTY;
    this.#continues = false;
    const finished = this.#formatLines(lines, continues, time, onLine);
    const rest = this.#hold(chunk.subarray(last + 1), time, onLine);
    return rest.length === 0 ? finished : Buffer.concat([finished, rest]);
  }

  /** Ends the stream: returns the unfinished last line, terminated (except in `raw`), or nothing. */
  end(time: number, onLine?: (line: string) => void): Buffer {
    const last = this.#carry;
    const continues = this.#continues;
    this.#carry = EMPTY;
    this.#continues = false;
    if (last.length === 0) return EMPTY;
    const piece = { bytes: last, continues, cut: false };
    onLine?.(decode(last));
    if (this.#format === 'raw') return Buffer.from(last);
    return Buffer.from(this.#formatPiece(piece, time), 'utf8');
  }

  /**
   * Keeps `bytes` (no newline in them) as the unfinished line, cutting off and returning capped
   * pieces while it is longer than the cap.
   */
  #hold(bytes: Buffer, time: number, onLine: ((line: string) => void) | undefined): Buffer {
    if (bytes.length === 0) return EMPTY;
    let line = this.#carry.length === 0 ? bytes : Buffer.concat([this.#carry, bytes]);
    const pieces: Piece[] = [];
    while (line.length > this.#maxLineBytes) {
      const cut = utf8Cut(line, this.#maxLineBytes);
      pieces.push({ bytes: line.subarray(0, cut), continues: this.#continues, cut: true });
      this.#continues = true;
      line = line.subarray(cut);
    }
    // Copied, not a view: a view would keep the whole chunk's memory alive for a few bytes.
    this.#carry = Buffer.from(line);
    return pieces.length === 0 ? EMPTY : this.#formatPieces(pieces, time, onLine);
  }

  /**
   * Formats `lines`: complete lines separated by newlines, the last one's newline left off. The
   * first continues a cut line when `continues`. Over-long lines are cut into pieces.
   */
  #formatLines(
    lines: Buffer,
    continues: boolean,
    time: number,
    onLine: ((line: string) => void) | undefined,
  ): Buffer {
    if (this.#hasLongLine(lines)) return this.#formatPieces(this.#split(lines, continues), time, onLine);
    const text = onLine || this.#format !== 'raw' ? lines.toString('utf8') : '';
    if (onLine) for (const line of text.split('\n')) onLine(withoutCR(line));
    if (this.#format === 'raw') return Buffer.concat([lines, NEWLINE_BYTE]);
    if (this.#format === 'prefixed' && !needsNeutralising(text)) {
      const head = continues ? this.#continuation : this.#prefix;
      return Buffer.from(`${head}${text.replaceAll('\n', `\n${this.#prefix}`)}\n`, 'utf8');
    }
    let out = '';
    for (const [i, line] of text.split('\n').entries()) {
      out += this.#formatText(line, continues && i === 0, false, time);
    }
    return Buffer.from(out, 'utf8');
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

  /** `lines` (as for {@link #formatLines}) as pieces, over-long lines cut. */
  #split(lines: Buffer, continues: boolean): Piece[] {
    const pieces: Piece[] = [];
    for (let from = 0; from <= lines.length;) {
      const newline = lines.indexOf(NEWLINE, from);
      const to = newline === -1 ? lines.length : newline;
      let start = from;
      let piecesContinue = continues && from === 0;
      while (to - start > this.#maxLineBytes) {
        const cut = start + utf8Cut(lines.subarray(start, to), this.#maxLineBytes);
        pieces.push({ bytes: lines.subarray(start, cut), continues: piecesContinue, cut: true });
        piecesContinue = true;
        start = cut;
      }
      pieces.push({ bytes: lines.subarray(start, to), continues: piecesContinue, cut: false });
      from = to + 1;
    }
    return pieces;
  }

  #formatPieces(
    pieces: readonly Piece[],
    time: number,
    onLine: ((line: string) => void) | undefined,
  ): Buffer {
    if (onLine) for (const piece of pieces) onLine(decode(piece.bytes));
    if (this.#format === 'raw') {
      // The bytes as they are: a cut piece goes on in the next one, so only a line's end gets a newline.
      return Buffer.concat(pieces.flatMap((p) => (p.cut ? [p.bytes] : [p.bytes, NEWLINE_BYTE])));
    }
    return Buffer.from(pieces.map((piece) => this.#formatPiece(piece, time)).join(''), 'utf8');
  }

  #formatPiece(piece: Piece, time: number): string {
    return this.#formatText(piece.bytes.toString('utf8'), piece.continues, piece.cut, time);
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

const NEWLINE_BYTE = Buffer.from('\n');

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
