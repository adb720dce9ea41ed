/**
 * Turning a child's output bytes into complete, formatted lines, one chunk at a time.
 *
 * Speed comes from never looking at lines one by one in JavaScript on the hot path. The lines a
 * chunk finishes are found with two native searches (first and last newline); for `prefixed`,
 * the lines between them get the name prefix from a WebAssembly routine (see line-prefix.ts);
 * `raw` output is a view of the chunk; `json` records are made by a few native replaces over the
 * whole chunk when its bytes can go into them as they are. Lines are materialised one by one only
 * while someone watches them (the log readiness probe), and for JSON chunks that need escape
 * sequences (control characters, invalid UTF-8) or drop a CR.
 */
import { isUtf8 } from 'node:buffer';
import { type LinePrefixer, linePrefixer } from './line-prefix.js';

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

const EMPTY = Buffer.alloc(0);

/**
 * Chunks are formatted in pieces of at most 64 KiB, so that the prefixer's memory (and, in its
 * string fallback, the latin1 string, which V8 would otherwise put in its large-object space)
 * stays small.
 */
const MAX_PIECE = 64 * 1024;

/** The buffer raw `push(…, reuse)` joins a carry and a chunk in; grown when needed, never shrunk. */
let shared = Buffer.allocUnsafe(0);
function scratch(size: number): Buffer {
  if (shared.length < size) shared = Buffer.allocUnsafe(Math.max(size, 96 * 1024));
  return shared.subarray(0, size);
}

/**
 * Stateful: keeps the unfinished last line of a stream between chunks (never more than
 * `maxLineBytes`). Every Buffer returned holds only complete lines (except in `raw`, where an
 * over-long line's pieces and the final unterminated line are passed on as they are), so writers
 * sharing a destination interleave at line boundaries. A returned Buffer may be a view of the
 * chunk given, so write it before reusing the chunk's memory (streams never reuse it).
 */
export class LineFormatter {
  readonly #format: OutputFormat;
  readonly #maxLineBytes: number;
  /** `prefixed`: the prefix's bytes. */
  readonly #prefix: Buffer;
  readonly #prefixer: LinePrefixer;
  /** `json`: everything of a record before the time, and between the time and the line. */
  readonly #jsonHead = '{"level":30,"time":';
  readonly #jsonMiddle: string;
  /** `#jsonMiddle`'s UTF-8 bytes as a latin1 string, for {@link #jsonVerbatim}. */
  readonly #jsonMiddleLatin1: string;
  /** Bytes of the current unfinished line; at most `maxLineBytes` long. */
  #carry: Buffer = EMPTY;

  constructor(options: LineFormatOptions) {
    this.#format = options.format;
    this.#maxLineBytes = Math.max(4, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    const name = options.component.padEnd(options.prefixWidth ?? 0);
    const coloured = options.color === undefined ? name : `\x1b[${options.color}m${name}\x1b[0m`;
    this.#prefix = Buffer.from(`${coloured} | `, 'utf8');
    this.#prefixer = linePrefixer();
    // pino's layout (level, time first) so these records sit among Corral's own pino logs.
    this.#jsonMiddle = `,"component":${JSON.stringify(options.component)},"stream":"${options.stream}","line":`;
    this.#jsonMiddleLatin1 = Buffer.from(this.#jsonMiddle).toString('latin1');
  }

  /**
   * Takes the next chunk of the stream and returns the formatted lines it finished (an empty
   * Buffer when it finished none). `onLine`, when given, receives every finished line, decoded as
   * UTF-8 (invalid bytes become U+FFFD) and without its line ending; `time` is the JSON `time`.
   * With `reuse`, the result may live in memory shared by every formatter and overwritten by the
   * next `push` of any of them: only for callers that write it out before pushing again.
   */
  push(chunk: Buffer, time: number, onLine?: (line: string) => void, reuse = false): Buffer {
    const piece = Math.min(this.#maxLineBytes, MAX_PIECE);
    if (chunk.length > piece) {
      // In a piece no longer than the cap only the first line can exceed the cap (see #cut).
      const parts: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += piece) {
        parts.push(this.push(chunk.subarray(at, at + piece), time, onLine));
      }
      return Buffer.concat(parts);
    }
    const first = chunk.indexOf(10);
    if (first === -1 || this.#carry.length + first > this.#maxLineBytes)
      return this.#cut(chunk, time, onLine);
    const last = chunk.lastIndexOf(10);
    const carry = this.#carry;
    // Copied, not a view: a view would keep the whole chunk's memory alive for a few bytes.
    this.#carry = last + 1 === chunk.length ? EMPTY : Buffer.from(chunk.subarray(last + 1));
    if (onLine) this.#publish(carry, chunk, first, last, onLine);
    if (this.#format === 'raw') {
      if (carry.length === 0) return chunk.subarray(0, last + 1);
      // Nearly every chunk ends inside a line: reusing one buffer spares the GC a chunk's worth
      // of garbage each time (which would widen V8's young generation, and so the RSS).
      const out = reuse ? scratch(carry.length + last + 1) : Buffer.allocUnsafe(carry.length + last + 1);
      chunk.copy(out, carry.copy(out, 0), 0, last + 1);
      return out;
    }
    if (this.#format === 'json') {
      const lines =
        carry.length === 0 ? chunk.subarray(0, last) : Buffer.concat([carry, chunk.subarray(0, last)]);
      return this.#jsonVerbatim(lines, time) ?? this.#jsonRecords(lines, time);
    }
    // prefixed: <prefix><carry><chunk up to the first newline>, then the other lines, each prefixed.
    const head = carry.length === 0 ? [chunk.subarray(0, first + 1)] : [carry, chunk.subarray(0, first + 1)];
    const out = this.#prefixer.prefix(this.#prefix, head, chunk.subarray(first + 1, last + 1));
    // The prefixer's output lives in memory it reuses: copy it unless the caller writes it at once.
    return reuse ? out : Buffer.from(out);
  }

  /** Ends the stream: returns the unfinished last line, terminated (except in `raw`), or nothing. */
  end(time: number, onLine?: (line: string) => void): Buffer {
    const last = this.#carry;
    this.#carry = EMPTY;
    if (last.length === 0) return EMPTY;
    onLine?.(decode(last, 0, last.length));
    return this.#format === 'raw' ? last : this.#formatLine(last, time);
  }

  /**
   * The slow path: the chunk finishes no line, or its first line continues the carry past the cap.
   * Cuts the over-long line into capped pieces, keeps what is left unfinished, and hands any
   * finished lines after it back to `push`, whose fast path now applies.
   */
  #cut(chunk: Buffer, time: number, onLine?: (line: string) => void): Buffer {
    const text = Buffer.concat([this.#carry, chunk]);
    const parts: Buffer[] = [];
    const firstNewline = text.indexOf(10);
    const end = firstNewline === -1 ? text.length : firstNewline;
    let start = 0;
    while (end - start > this.#maxLineBytes) {
      const cut = utf8Cut(text, start, start + this.#maxLineBytes);
      const piece = text.subarray(start, cut);
      onLine?.(decode(piece, 0, piece.length));
      parts.push(this.#format === 'raw' ? piece : this.#formatLine(piece, time));
      start = cut;
    }
    this.#carry = EMPTY;
    if (firstNewline === -1) this.#carry = Buffer.from(text.subarray(start));
    else parts.push(this.push(text.subarray(start), time, onLine));
    return parts.length === 1 ? (parts[0] ?? EMPTY) : Buffer.concat(parts);
  }

  /** Hands every line finished by `chunk` to `onLine`: carry + chunk[..first], then the rest. */
  #publish(carry: Buffer, chunk: Buffer, first: number, last: number, onLine: (line: string) => void): void {
    const head =
      carry.length === 0 ? chunk.subarray(0, first) : Buffer.concat([carry, chunk.subarray(0, first)]);
    onLine(decode(head, 0, head.length));
    for (let from = first + 1; from <= last;) {
      const to = chunk.indexOf(10, from);
      onLine(decode(chunk, from, to));
      from = to + 1;
    }
  }

  /** The records of `lines` (complete lines, the last one's newline left off), one by one. */
  #jsonRecords(lines: Buffer, time: number): Buffer {
    let out = '';
    for (let from = 0; from <= lines.length;) {
      const newline = lines.indexOf(10, from);
      const to = newline === -1 ? lines.length : newline;
      out += this.#jsonRecord(lines, from, to, time);
      from = to + 1;
    }
    return Buffer.from(out, 'utf8');
  }

  /** The record of the line `bytes[from..to)`. */
  #jsonRecord(bytes: Buffer, from: number, to: number, time: number): string {
    return `${this.#jsonHead}${time}${this.#jsonMiddle}${JSON.stringify(decode(bytes, from, to))}}\n`;
  }

  /**
   * The records of `lines` (as for {@link #jsonRecords}) made at once, when the bytes can go into
   * them as they are: valid UTF-8 with no control character but tab and newline, so that
   * JSON.stringify would only escape `"`, `\\` and tab. Done on the bytes as one latin1 string
   * (a byte per character, so UTF-8 passes through untouched) with three native replaces, about
   * ten times faster than a JSON.stringify per line; the output is the same byte for byte
   * (test/process/line-format.test.ts checks it against the per-line path). Undefined otherwise.
   */
  #jsonVerbatim(lines: Buffer, time: number): Buffer | undefined {
    if (!isUtf8(lines)) return undefined;
    const text = lines.toString('latin1');
    if (NEEDS_ESCAPE_SEQUENCE.test(text)) return undefined;
    const head = `${this.#jsonHead}${time}${this.#jsonMiddleLatin1}"`;
    // `$` is special in a replacement string; the component's name may hold one.
    const between = `"}\n${head}`.replaceAll('$', '$$$$');
    const escaped = text.replace(QUOTE_OR_BACKSLASH, '\\$&').replaceAll('\t', '\\t');
    return Buffer.from(`${head}${escaped.replaceAll('\n', between)}"}\n`, 'latin1');
  }

  /** One line (bytes without its newline) in `prefixed` or `json`. */
  #formatLine(line: Buffer, time: number): Buffer {
    if (this.#format === 'json') return Buffer.from(this.#jsonRecord(line, 0, line.length, time), 'utf8');
    return Buffer.concat([this.#prefix, line, NEWLINE]);
  }
}

const NEWLINE = Buffer.from('\n');
/** Control characters JSON.stringify writes as an escape sequence, except tab (and newline, the separator). */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_ESCAPE_SEQUENCE = /[\x00-\x08\x0b-\x1f]/;
const QUOTE_OR_BACKSLASH = /["\\]/g;

/**
 * Where to cut `bytes` (UTF-8) near `at` so that no character is split: backs up over at most
 * three continuation bytes; gives `at` itself when that would leave nothing before the cut.
 */
function utf8Cut(bytes: Buffer, start: number, at: number): number {
  for (let cut = at; cut > start && cut > at - 4; cut--) {
    if (((bytes[cut] ?? 0) & 0xc0) !== 0x80) return cut;
  }
  return at;
}

/** `bytes[from..to)` decoded as UTF-8 (invalid sequences become U+FFFD), less one final CR. */
function decode(bytes: Buffer, from: number, to: number): string {
  return bytes.toString('utf8', from, to > from && bytes[to - 1] === 13 ? to - 1 : to);
}
