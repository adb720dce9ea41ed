import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineFormatter, type LineFormatOptions } from '../../src/output/line-format.js';
import { needsNeutralising, neutralise } from '../../src/output/terminal-text.js';

/** Feeds `chunks` through a formatter; returns the output bytes and the lines the hook saw. */
function run(
  options: Partial<LineFormatOptions>,
  chunks: readonly Buffer[],
): { out: Buffer; lines: string[] } {
  const formatter = new LineFormatter({ format: 'prefixed', component: 'app', stream: 'stdout', ...options });
  const lines: string[] = [];
  const onLine = (line: string): void => {
    lines.push(line);
  };
  const parts: Buffer[] = chunks.map((chunk) => formatter.push(chunk, 7, onLine));
  parts.push(formatter.end(7, onLine));
  return { out: Buffer.concat(parts), lines };
}

const text = (options: Partial<LineFormatOptions>, ...chunks: string[]): string =>
  run(
    options,
    chunks.map((c) => Buffer.from(c)),
  ).out.toString();

test('prefixed pads the name, keeps line endings and terminates the last line', () => {
  assert.equal(text({ prefixWidth: 5 }, 'a\r\nb', '\n', 'c'), 'app   | a\r\napp   | b\napp   | c\n');
  assert.equal(text({}, ''), '');
});

test('a name with $ or non-ASCII characters is written as it is', () => {
  assert.equal(text({ component: 'a$&b' }, 'x\ny\n'), 'a$&b | x\na$&b | y\n');
  assert.equal(text({ component: 'café' }, 'x\ny\n'), 'café | x\ncafé | y\n');
});

test('a colour wraps the name in ANSI codes', () => {
  assert.equal(text({ color: 36, prefixWidth: 4 }, 'x\n'), '\x1b[36mapp \x1b[0m | x\n');
});

test('raw passes bytes through unchanged, invalid UTF-8 and a last line without newline included', () => {
  const bytes = Buffer.from([0x61, 0xff, 0x0a, 0xc3, 0xa9, 0x0d, 0x0a, 0x62]);
  assert.deepEqual(run({ format: 'raw' }, [bytes.subarray(0, 4), bytes.subarray(4)]).out, bytes);
});

test('a line longer than the cap is cut into capped pieces, never inside a UTF-8 character', () => {
  const long = `${'x'.repeat(9)}é${'y'.repeat(12)}`; // é (2 bytes) straddles the 10-byte cut
  const { out, lines } = run({ maxLineBytes: 10 }, [
    Buffer.from(long.slice(0, 5)),
    Buffer.from(`${long.slice(5)}\nz\n`),
  ]);
  assert.deepEqual(lines, ['xxxxxxxxx', 'éyyyyyyyy', 'yyyy', 'z']);
  // Every piece after a line's first is marked as its continuation.
  assert.equal(out.toString(), 'app | xxxxxxxxx\napp + éyyyyyyyy\napp + yyyy\napp | z\n');
});

test('json marks every piece of a cut line but its last as partial', () => {
  const out = text({ format: 'json', maxLineBytes: 4 }, 'abcdefghij\nk\n');
  const records = out
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { line: string; partial?: boolean });
  assert.deepEqual(
    records.map((r) => [r.line, r.partial]),
    [
      ['abcd', true],
      ['efgh', true],
      ['ij', undefined],
      ['k', undefined],
    ],
  );
});

test('prefixed removes escape sequences a child meant for its own terminal', () => {
  const nasty = [
    '\x1b]0;pwned title\x07title',
    '\x1b[2J\x1b[Hcleared',
    '\x1b[31mred\x1b[0m text',
    'bell\x07 and back\bspace',
    'over\rwrite',
    '\x1bPdevice control\x1b\\dcs',
    'c1 \u009b2J csi',
  ].join('\n');
  assert.equal(
    text({}, `${nasty}\n`),
    [
      'app | title',
      'app | cleared',
      'app | red text',
      'app | bell and backspace',
      'app | overwrite',
      'app | dcs',
      'app | c1  csi',
      '',
    ].join('\n'),
  );
});

test('with colours on, a child’s colours are kept and reset at the end of its line', () => {
  assert.equal(text({ color: 36 }, '\x1b[31mred\x1b[2J\n'), '\x1b[36mapp\x1b[0m | \x1b[31mred\x1b[0m\n');
});

test('raw passes escape sequences through untouched', () => {
  const bytes = '\x1b]0;title\x07\x1b[2Jx\n';
  assert.equal(text({ format: 'raw' }, bytes), bytes);
});

test('raw cuts an over-long line without adding newlines', () => {
  const { out, lines } = run({ format: 'raw', maxLineBytes: 8 }, [
    Buffer.from('a'.repeat(20)),
    Buffer.from('\n'),
  ]);
  assert.equal(out.toString(), `${'a'.repeat(20)}\n`);
  assert.deepEqual(lines, ['aaaaaaaa', 'aaaaaaaa', 'aaaa']);
});

test('the carried unfinished line never exceeds the cap, whatever the chunk sizes', () => {
  const formatter = new LineFormatter({
    format: 'prefixed',
    component: 'a',
    stream: 'stdout',
    maxLineBytes: 100,
  });
  let out = '';
  for (let i = 0; i < 1000; i++) out += formatter.push(Buffer.alloc(37, 0x78), 0).toString();
  out += formatter.end(0).toString();
  const lines = out.split('\n').slice(0, -1);
  assert.equal(lines.length, 370);
  // One line of 37,000 bytes, in pieces of 100: the first, then 369 continuations.
  assert.equal(lines[0], `a | ${'x'.repeat(100)}`);
  assert.ok(lines.slice(1).every((line) => line === `a + ${'x'.repeat(100)}`));
});

test('json escapes each line and strips a final CR', () => {
  const out = text({ format: 'json', component: 'w"eb', stream: 'stderr' }, 'a "q"\r\n\u2028\n');
  assert.equal(
    out,
    '{"level":30,"time":7,"component":"w\\"eb","stream":"stderr","line":"a \\"q\\""}\n' +
      '{"level":30,"time":7,"component":"w\\"eb","stream":"stderr","line":"\u2028"}\n',
  );
});

test('json: records made from the whole chunk equal a JSON.stringify of each line (property)', () => {
  // Bytes that take the whole-chunk path (printable ASCII, quotes, backslashes, tabs, UTF-8) and
  // some that force the per-line path (other control characters, CR, invalid UTF-8).
  const alphabet = ['a', ' ', '"', '\\', '\t', '\n', '$&', 'é', '\u2028', '😀', '\r', '\u0001', '\x7f'];
  const piece = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...alphabet).map((c) => Buffer.from(c)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xe2, 0x82])) },
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 60 }),
      fc.constantFrom('app', 'n$1 "q"', 'wéb'),
      (pieces, component) => {
        const input = Buffer.concat(pieces);
        const head = `{"level":30,"time":7,"component":${JSON.stringify(component)},"stream":"stdout","line":`;
        const lines = input.toString('latin1').split('\n');
        if (lines.at(-1) === '') lines.pop();
        const expected = lines
          .map((line) => Buffer.from(line, 'latin1'))
          .map((bytes) => bytes.toString('utf8', 0, bytes.at(-1) === 13 ? bytes.length - 1 : bytes.length))
          .map((line) => `${head}${JSON.stringify(line)}}\n`)
          .join('');
        assert.equal(run({ format: 'json', component }, [input]).out.toString('utf8'), expected);
      },
    ),
    { numRuns: 1000 },
  );
});

test('prefixed: a run of lines formatted at once equals each line formatted alone (property)', () => {
  // CRs alone, at a line's end and doubled, other control characters, escapes, C1 controls,
  // replacement patterns and invalid UTF-8: whatever decides between the run and the line way.
  const alphabet = [
    'a',
    ' ',
    '\t',
    '\n',
    '\r',
    '\r\n',
    '$&',
    '$1',
    'é',
    '\u0085',
    '\x1b[2J',
    '\u0001',
    '\x7f',
  ];
  const piece = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...alphabet).map((c) => Buffer.from(c)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xe2, 0x82])) },
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), fc.constantFrom('app', 'a$&b'), (pieces, component) => {
      const input = Buffer.concat(pieces);
      const lines = input.toString('latin1').split('\n');
      if (lines.at(-1) === '') lines.pop();
      const expected = lines
        .map((line) => Buffer.from(line, 'latin1').toString('utf8'))
        .map((line) => {
          const cr = line.endsWith('\r') ? '\r' : '';
          const text = cr ? line.slice(0, -1) : line;
          return `${component} | ${needsNeutralising(text) ? neutralise(text, false) : text}${cr}\n`;
        })
        .join('');
      assert.equal(run({ component }, [input]).out.toString('utf8'), expected);
    }),
    { numRuns: 1000 },
  );
});

test('output does not depend on where chunks are cut (property)', () => {
  const bytes = fc
    .uint8Array({ maxLength: 400, size: 'max' })
    .map((a) => Buffer.from(a.map((b) => (b % 32 === 0 ? 10 : b))));
  fc.assert(
    fc.property(
      bytes,
      fc.array(fc.nat(400), { size: 'medium' }),
      fc.constantFrom('prefixed', 'raw', 'json'),
      (input, cuts, format) => {
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((from, i) => input.subarray(from, [...points, input.length][i]));
        const options = { format, maxLineBytes: 16 } as const;
        const whole = run(options, [input]);
        const pieces = run(options, chunks);
        assert.deepEqual(pieces.out, whole.out);
        assert.deepEqual(pieces.lines, whole.lines);
        if (format === 'raw') assert.deepEqual(whole.out, input);
        if (format === 'prefixed') {
          // Each input byte becomes at most one character (an invalid one becomes U+FFFD).
          const longest = Math.max(
            ...whole.out
              .toString('utf8')
              .split('\n')
              .map((line) => Array.from(line).length),
          );
          assert.ok(longest <= 'app | '.length + 16, `a line of ${longest} characters`);
        }
      },
    ),
    { numRuns: 500 },
  );
});
