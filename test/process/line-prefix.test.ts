import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type LinePrefixer,
  linePrefixer,
  simdPrefixer,
  StringPrefixer,
} from '../../src/process/line-prefix.js';

/** What every prefixer must produce, written the obvious way. */
function reference(prefix: Buffer, head: readonly Buffer[], lines: Buffer): Buffer {
  const parts: Buffer[] = [prefix, ...head];
  for (let from = 0; from < lines.length;) {
    const to = lines.indexOf(10, from) + 1;
    parts.push(prefix, lines.subarray(from, to));
    from = to;
  }
  return Buffer.concat(parts);
}

const simd = simdPrefixer();
const prefixers: [string, LinePrefixer][] = [
  ['string', new StringPrefixer()],
  ...(simd ? [['simd', simd] as [string, LinePrefixer]] : []),
];

test('this Node runs the WebAssembly prefixer, and uses it by default', () => {
  assert.ok(simd, 'WebAssembly SIMD is unavailable: forwarding falls back to the slower string prefixer');
  assert.equal(linePrefixer().constructor.name, 'SimdPrefixer');
});

for (const [name, prefixer] of prefixers) {
  test(`${name}: puts the prefix before the head and before every line`, () => {
    const out = prefixer.prefix(
      Buffer.from('app | '),
      [Buffer.from('par'), Buffer.from('t\n')],
      Buffer.from('a\n\nb\r\n'),
    );
    assert.equal(out.toString(), 'app | part\napp | a\napp | \napp | b\r\n');
    assert.equal(
      prefixer.prefix(Buffer.from('$& | '), [Buffer.from('x\n')], Buffer.alloc(0)).toString(),
      '$& | x\n',
    );
  });

  test(`${name}: any bytes, prefixes and line lengths give the reference output (property)`, () => {
    // Lines of 0 to 200 bytes, so that lines start and end everywhere within the 16-byte blocks.
    const line = fc
      .uint8Array({ maxLength: 200 })
      .map((bytes) => Buffer.concat([Buffer.from(bytes.map((b) => (b === 10 ? 11 : b))), Buffer.from('\n')]));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 70 }).map((bytes) => Buffer.from(bytes)),
        fc.array(fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes))),
        fc.array(line, { maxLength: 60 }),
        (prefix, head, lines) => {
          const all = Buffer.concat(lines);
          const expected = reference(prefix, head, all);
          assert.deepEqual(prefixer.prefix(prefix, head, all), expected);
          // Again, after memory the previous call left behind (the routine reuses it).
          assert.deepEqual(prefixer.prefix(prefix, head, all), expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  test(`${name}: a large run of short lines, and its memory grown for a long prefix`, () => {
    const lines = Buffer.from('x\n'.repeat(32 * 1024) + '\n'.repeat(1000));
    for (const prefix of [Buffer.from('a | '), Buffer.from(`${'long-name'.repeat(10)} | `)]) {
      assert.deepEqual(
        prefixer.prefix(prefix, [Buffer.from('\n')], lines),
        reference(prefix, [Buffer.from('\n')], lines),
      );
    }
  });
}
