/**
 * Putting a prefix in front of every line of a run of complete lines: the hot loop of the
 * `prefixed` format (see line-format.ts), done by a tiny WebAssembly routine.
 *
 * Why WebAssembly: at a few hundred MB of logs a second every cost per line counts. In
 * JavaScript the fastest way found (a chunk read as a latin1 string, one native `replace` of
 * every newline, the result written back into a Buffer) still costs about 55 ns a line, which
 * made formatting half of the forwarder's CPU time (bench/log-throughput.ts). The routine below
 * finds newlines sixteen bytes at a time with SIMD and copies each line with 16-byte moves, about
 * four times faster. It is built from the listing in this file when the module loads, needs
 * nothing at build time, and falls back to the string path where WebAssembly is unavailable
 * (`node --jitless`).
 */

/** Writes `prefix + head`, then every line of `lines` (complete lines, each ending in a newline) prefixed. */
export interface LinePrefixer {
  /**
   * Returns the bytes: a view of memory shared by every caller, valid until the next call of any
   * prefixer (copy it to keep it). `head` is the first line, newline included (the carried part
   * and the chunk's bytes up to its first newline); `lines` may be empty.
   */
  prefix(prefix: Buffer, head: readonly Buffer[], lines: Buffer): Buffer;
}

/**
 * The routine, in WebAssembly's text notation (the bytes below are this, instruction for
 * instruction):
 *
 *     (func $prefix (param $from i32) (param $to i32) (param $out i32) (param $pre i32) (param $len i32) (result i32)
 *       ;; every line of [from, to) (to - 1 is a newline) goes to $out, after a copy of [pre, pre + len)
 *       s := from; i := from; nl16 := i8x16.splat(10)
 *       o := copy(out, pre, len)
 *       while i < to:
 *         mask := i8x16.bitmask(i8x16.eq(v128.load(i), nl16))   ;; bit k: byte i + k is a newline
 *         if to - i < 16: mask &= (1 << (to - i)) - 1          ;; ignore bytes past the end
 *         while mask != 0:
 *           nl := i + ctz(mask)
 *           o := copy(o, s, nl + 1 - s); s := nl + 1            ;; the line, newline included
 *           o := copy(o, pre, len)                              ;; the next line's prefix
 *           mask &= mask - 1
 *         i += 16
 *       return o - len                                          ;; less the prefix after the last line
 *
 *     (func $copy (param $dst i32) (param $src i32) (param $n i32) (result i32)
 *       ;; copies in 16-byte moves, so up to 15 bytes past dst + n are overwritten and up to 15
 *       ;; past src + n read: the caller leaves room (later copies overwrite the excess)
 *       end := dst + n
 *       do: v128.store(dst, v128.load(src)); dst += 16; src += 16 while dst < end
 *       return end
 */
function routine(): Uint8Array {
  // Types and instructions, as WebAssembly's binary format encodes them.
  const i32 = 0x7f;
  const v128 = 0x7b;
  const block = [0x02, 0x40]; // with no result
  const loop = [0x03, 0x40];
  const ifThen = [0x04, 0x40];
  const end = [0x0b];
  const br = (depth: number): number[] => [0x0c, depth];
  const brIf = (depth: number): number[] => [0x0d, depth];
  const call = (fn: number): number[] => [0x10, fn];
  const get = (local: number): number[] => [0x20, local]; // local.get
  const set = (local: number): number[] => [0x21, local];
  const tee = (local: number): number[] => [0x22, local];
  const num = (n: number): number[] => [0x41, n]; // i32.const, for 0 <= n < 64
  const eqz = [0x45]; // i32.eqz, and so on
  const ltU = [0x49];
  const geU = [0x4f];
  const ctz = [0x68];
  const add = [0x6a];
  const sub = [0x6b];
  const and = [0x71];
  const shl = [0x74];
  const load = [0xfd, 0x00, 0, 0]; // v128.load, align 1, offset 0
  const store = [0xfd, 0x0b, 0, 0]; // v128.store, align 1, offset 0
  const splat = [0xfd, 0x0f]; // i8x16.splat
  const eq = [0xfd, 0x23]; // i8x16.eq
  const bitmask = [0xfd, 0x64]; // i8x16.bitmask

  // $prefix: params from 0, to 1, out 2, pre 3, len 4; locals s 5, o 6, i 7, mask 8, nl 9, nl16 10.
  const [from, to, out, pre, len, s, o, i, mask, nl, nl16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const prefix = [
    ...[get(from), set(s), get(from), set(i), num(10), splat, set(nl16)],
    ...[get(out), get(pre), get(len), call(1), set(o)],
    ...[block, loop, get(i), get(to), geU, brIf(1)],
    ...[get(i), load, get(nl16), eq, bitmask, set(mask)],
    ...[get(to), get(i), sub, num(16), ltU, ifThen],
    ...[get(mask), num(1), get(to), get(i), sub, shl, num(1), sub, and, set(mask), end],
    ...[block, loop, get(mask), eqz, brIf(1)],
    ...[get(i), get(mask), ctz, add, set(nl)],
    ...[get(o), get(s), get(nl), num(1), add, get(s), sub, call(1), set(o)],
    ...[get(nl), num(1), add, set(s)],
    ...[get(o), get(pre), get(len), call(1), set(o)],
    ...[get(mask), get(mask), num(1), sub, and, set(mask), br(0), end, end],
    ...[get(i), num(16), add, set(i), br(0), end, end],
    ...[get(o), get(len), sub],
  ].flat();
  // $copy: params dst 0, src 1, n 2; local end 3.
  const [dst, src, n, last] = [0, 1, 2, 3];
  const copy = [
    ...[get(dst), get(n), add, set(last)],
    ...[loop, get(dst), get(src), load, store],
    ...[get(dst), num(16), add, tee(dst), get(src), num(16), add, set(src), get(last), ltU, brIf(0), end],
    get(last),
  ].flat();

  const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
  const section = (id: number, items: number[][]): number[] => {
    const body = vec(items);
    return [id, ...leb(body.length), ...body];
  };
  const code = (locals: number[][], body: number[]): number[] => {
    const bytes = [...vec(locals), ...body, ...end];
    return [...leb(bytes.length), ...bytes];
  };
  const name = (text: string): number[] => vec([...Buffer.from(text)].map((byte) => [byte]));
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // "\0asm", version 1
    ...section(1, [
      [0x60, ...vec([[i32], [i32], [i32], [i32], [i32]]), ...vec([[i32]])], // (5 × i32) → i32
      [0x60, ...vec([[i32], [i32], [i32]]), ...vec([[i32]])], // (3 × i32) → i32
    ]),
    ...section(3, [[0], [1]]), // $prefix has type 0, $copy type 1
    ...section(5, [[0x00, 1]]), // one memory, one page to start with, growable
    ...section(7, [
      [...name('prefix'), 0x00, 0],
      [...name('memory'), 0x02, 0],
    ]),
    ...section(10, [
      code(
        [
          [5, i32],
          [1, v128],
        ],
        prefix,
      ),
      code([[1, i32]], copy),
    ]),
  ]);
}

/** Unsigned LEB128, WebAssembly's encoding of sizes and counts. */
function leb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest & 0x7f;
    rest >>>= 7;
    bytes.push(rest ? low | 0x80 : low);
  } while (rest);
  return bytes;
}

/** The part of the WebAssembly API used here (the project's `lib` has no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type PrefixFn = (from: number, to: number, out: number, pre: number, len: number) => number;

/** Room the 16-byte moves may overrun, after the input and after the output. */
const SLACK = 32;
const PAGE = 64 * 1024;

/**
 * The WebAssembly prefixer. Memory layout: the prefix at 0, the lines to prefix after it, the
 * output after them; the memory grows when a call needs more (and never shrinks).
 */
class SimdPrefixer implements LinePrefixer {
  readonly #prefix: PrefixFn;
  readonly #memory: WasmMemory;
  /** A view of all of `#memory`, renewed when it grows (growing detaches the old buffer). */
  #bytes: Buffer;

  constructor(wasm: WasmApi) {
    const { exports } = new wasm.Instance(new wasm.Module(routine()));
    this.#prefix = exports.prefix as PrefixFn;
    this.#memory = exports.memory as WasmMemory;
    this.#bytes = Buffer.from(this.#memory.buffer);
  }

  prefix(prefix: Buffer, head: readonly Buffer[], lines: Buffer): Buffer {
    const input = align(prefix.length + SLACK);
    const output = align(input + lines.length + SLACK);
    let headLength = prefix.length;
    for (const part of head) headLength += part.length;
    // At most one line per byte of `lines`, each adding a prefix.
    const size = output + headLength + lines.length * (prefix.length + 1) + prefix.length + SLACK;
    if (size > this.#bytes.length) {
      this.#memory.grow(Math.ceil((size - this.#bytes.length) / PAGE));
      this.#bytes = Buffer.from(this.#memory.buffer);
    }
    const bytes = this.#bytes;
    prefix.copy(bytes, 0);
    let at = output + prefix.copy(bytes, output);
    for (const part of head) at += part.copy(bytes, at);
    if (lines.length === 0) return bytes.subarray(output, at);
    lines.copy(bytes, input);
    const done = this.#prefix(input, input + lines.length, at, 0, prefix.length);
    return bytes.subarray(output, done);
  }
}

const align = (n: number): number => Math.ceil(n / 16) * 16;

const NEWLINES = /\n/g;

/**
 * The JavaScript prefixer, where WebAssembly is unavailable: `lines` read as a latin1 string
 * (one character per byte, so any bytes, valid UTF-8 or not, survive unchanged), the prefix put
 * after every newline but the last by one native `replace`, the result assembled in one Buffer.
 */
export class StringPrefixer implements LinePrefixer {
  /** The output buffer, reused; grown when a call needs more, never shrunk. */
  #shared = Buffer.allocUnsafe(0);
  /** The `replace` replacement for the last prefix seen (forwarders each have their own). */
  #replacement: { prefix: Buffer; text: string } = { prefix: Buffer.alloc(0), text: '' };

  prefix(prefix: Buffer, head: readonly Buffer[], lines: Buffer): Buffer {
    if (!this.#replacement.prefix.equals(prefix)) {
      // `$` escaped: `replace` would read `$&` and the like in the replacement.
      this.#replacement = { prefix, text: `\n${prefix.toString('latin1')}`.replaceAll('$', '$$$$') };
    }
    const middle =
      lines.length > 1
        ? lines.toString('latin1', 0, lines.length - 1).replace(NEWLINES, this.#replacement.text)
        : '';
    let size = prefix.length;
    for (const part of head) size += part.length;
    if (lines.length > 0) size += prefix.length + middle.length + 1;
    if (this.#shared.length < size) this.#shared = Buffer.allocUnsafe(Math.max(size, 96 * 1024));
    const out = this.#shared;
    let at = prefix.copy(out, 0);
    for (const part of head) at += part.copy(out, at);
    if (lines.length > 0) {
      at += prefix.copy(out, at);
      at += out.write(middle, at, 'latin1');
      out[at++] = 10;
    }
    return out.subarray(0, at);
  }
}

/** The WebAssembly prefixer, or undefined where this Node cannot build it (no WebAssembly or SIMD). */
export function simdPrefixer(): LinePrefixer | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    return wasm ? new SimdPrefixer(wasm) : undefined;
  } catch {
    // WebAssembly refused to compile the routine: it is an optimisation only.
    return undefined;
  }
}

let shared: LinePrefixer | undefined;

/** The fastest prefixer this Node supports, one for the whole process. */
export function linePrefixer(): LinePrefixer {
  shared ??= simdPrefixer() ?? new StringPrefixer();
  return shared;
}
