/**
 * Turning a child's output bytes into complete, formatted lines, one chunk at a time.
 *
 * Speed comes from never looking at lines one by one on the hot path. A chunk is read as a
 * latin1 string (one byte per character, so any byte sequence, valid UTF-8 or not, survives the
 * round trip unchanged), and the name prefix is put in front of every line of the chunk with a
 * single native `replace` of the newlines. Lines are materialised separately only while someone
 * watches them (the log readiness probe) or for the JSON format, which must escape each line.
 */

/** How forwarded lines are written. */
export type OutputFormat = 'prefixed' | 'json' | 'raw';

/** Which of the child's streams a line came from. */
export type OutputStream = 'stdout' | 'stderr';

/**
 * The longest line forwarded as one line, in bytes (without its newline). A longer line is cut
 * into pieces of at most this size, each forwarded as a line of its own (in `raw`, the pieces
 * are written without adding newlines), so a child that never writes a newline cannot make
 * Corral buffer without bound. Cuts fall on UTF-8 character boundaries where possible.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface LineFormatOptions {
  readonly format: OutputFormat;
  readonly component: string;
  readonly stream: OutputStream;
  /** Width the name is padded to in `prefixed`. @default component.length */
  readonly prefixWidth?: number;
  /** ANSI foreground colour code (e.g. 36 for cyan) for the name in `prefixed`; none when unset. */
  readonly color?: number;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

const NEWLINES = /\n/g;
const NON_ASCII = /[\x80-\xff]/;

/**
 * Stateful: keeps the unfinished last line of a stream between chunks (never more than
 * `maxLineBytes`). Output comes back as text in {@link encoding}; every piece of output holds only
 * complete lines (except in `raw`, where an over-long line's pieces and the final unterminated line
 * are passed on as they are), so writers sharing a destination interleave at line boundaries.
 */
export class LineFormatter {
  /** The encoding every string returned by `push` and `end` must be written with. */
  readonly encoding: 'latin1' | 'utf8';
  readonly #format: OutputFormat;
  readonly #maxLineBytes: number;
  /** `prefixed`: the prefix as latin1 text (its UTF-8 bytes, one per character). */
  readonly #prefix: string;
  /** `prefixed`: the `replace` replacement for every newline but the last, `$` escaped. */
  readonly #newlineReplacement: string;
  /** `json`: everything of a record before the time. */
  readonly #jsonHead: string;
  /** `json`: everything of a record between the time and the line's value. */
  readonly #jsonMiddle: string;
  /** Bytes of the current unfinished line, as latin1 text; at most `maxLineBytes` long. */
  #carry = '';

  constructor(options: LineFormatOptions) {
    this.#format = options.format;
    this.#maxLineBytes = Math.max(4, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.encoding = options.format === 'json' ? 'utf8' : 'latin1';
    const name = options.component.padEnd(options.prefixWidth ?? 0);
    const coloured = options.color === undefined ? name : `\x1b[${options.color}m${name}\x1b[0m`;
    this.#prefix = Buffer.from(`${coloured} | `, 'utf8').toString('latin1');
    this.#newlineReplacement = `\n${this.#prefix}`.replaceAll('$', '$$$$');
    // pino's layout (level, time first) so these records sit among Corral's own pino logs.
    this.#jsonHead = '{"level":30,"time":';
    this.#jsonMiddle = `,"component":${JSON.stringify(options.component)},"stream":"${options.stream}","line":`;
  }

  /**
   * Takes the next chunk of the stream and returns the formatted complete lines it finished
   * ('' when it finished none). `onLine`, when given, receives every finished line, decoded as
   * UTF-8 and without its line ending; `time` is the JSON records' `time`.
   */
  push(chunk: Buffer, time: number, onLine?: (line: string) => void): string {
    if (chunk.length > this.#maxLineBytes) {
      // Only the first line of a piece no longer than the cap can exceed the cap (see #take).
      let out = '';
      for (let at = 0; at < chunk.length; at += this.#maxLineBytes) {
        out += this.push(chunk.subarray(at, at + this.#maxLineBytes), time, onLine);
      }
      return out;
    }
    return this.#take(this.#carry + chunk.toString('latin1'), time, onLine);
  }

  /** Ends the stream: returns the unfinished last line, terminated (except in `raw`), or ''. */
  end(time: number, onLine?: (line: string) => void): string {
    const last = this.#carry;
    this.#carry = '';
    if (last === '') return '';
    onLine?.(decode(last));
    return this.#format === 'raw' ? last : this.#formatLines([last], time);
  }

  /** `text` is the carry plus one piece of at most `maxLineBytes`; so is what remains after it. */
  #take(text: string, time: number, onLine?: (line: string) => void): string {
    let start = 0;
    let out = '';
    const firstNewline = text.indexOf('\n');
    // Lines after the first lie inside the piece and are no longer than the cap; the first may
    // continue the carry past it, so cut it (and an unterminated text) into capped pieces.
    for (;;) {
      const end = firstNewline === -1 ? text.length : firstNewline;
      if (end - start <= this.#maxLineBytes) break;
      const cut = utf8Cut(text, start, start + this.#maxLineBytes);
      const piece = text.slice(start, cut);
      onLine?.(decode(piece));
      out += this.#format === 'raw' ? piece : this.#formatLines([piece], time);
      start = cut;
    }
    const lastNewline = firstNewline === -1 ? -1 : text.lastIndexOf('\n');
    if (lastNewline === -1) {
      this.#carry = start === 0 ? text : text.slice(start);
      return out;
    }
    this.#carry = text.slice(lastNewline + 1);
    const body = text.slice(start, lastNewline); // the finished lines, without the final newline
    if (onLine || this.#format === 'json') {
      const lines = body.split('\n');
      if (onLine) for (const line of lines) onLine(decode(line));
      if (this.#format === 'json') return out + this.#formatLines(lines, time);
    }
    if (this.#format === 'raw') return out + body + '\n';
    return out + this.#prefix + body.replace(NEWLINES, this.#newlineReplacement) + '\n';
  }

  /** Formats lines given as latin1 text (no line endings) in `prefixed` or `json`. */
  #formatLines(lines: readonly string[], time: number): string {
    if (this.#format !== 'json') return lines.map((line) => `${this.#prefix}${line}\n`).join('');
    const head = this.#jsonHead + String(time) + this.#jsonMiddle;
    let out = '';
    for (const line of lines) out += `${head}${JSON.stringify(decode(line))}}\n`;
    return out;
  }
}

/**
 * Where to cut `text` (latin1 bytes of UTF-8) near `at` so that no character is split: backs up
 * over at most three continuation bytes; gives `at` itself when that would leave nothing.
 */
function utf8Cut(text: string, start: number, at: number): number {
  for (let cut = at; cut > start && cut > at - 4; cut--) {
    const byte = text.charCodeAt(cut);
    if ((byte & 0xc0) !== 0x80) return cut;
  }
  return at;
}

/** Decodes latin1-carried bytes as UTF-8 (invalid sequences become U+FFFD); drops one final CR. */
function decode(bytes: string): string {
  const line = bytes.endsWith('\r') ? bytes.slice(0, -1) : bytes;
  return NON_ASCII.test(line) ? Buffer.from(line, 'latin1').toString('utf8') : line;
}
