import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogBuffer } from '../../src/control/log-buffer.js';
import type { LogLine } from '../../src/control/protocol.js';

const shown = (lines: readonly LogLine[]) => lines.map((l) => `${l.component}:${l.text}`).join('');
const write = (copy: (output: Buffer) => void, text: string) => copy(Buffer.from(text));

test('the last n lines of each component, in the order they came, cut at line boundaries', () => {
  const logs = new LogBuffer();
  const [a, b] = [logs.copyOf('a'), logs.copyOf('b')];
  write(a, 'a | 1\na | 2\na | 3\n');
  write(b, 'b | 1\n');
  write(a, 'a | 4\n');
  write(b, 'b | 2\nb | 3\n');
  assert.equal(shown(logs.recent([], 2)), 'a:a | 3\na:a | 4\nb:b | 2\nb | 3\n');
  assert.equal(shown(logs.recent(['a'], 100)), 'a:a | 1\na | 2\na | 3\na:a | 4\n');
  assert.equal(shown(logs.recent(['a'], 1)), 'a:a | 4\n');
  assert.equal(shown(logs.recent(['a'], 3)), 'a:a | 2\na | 3\na:a | 4\n');
  assert.equal(shown(logs.recent(['b'], 3)), 'b:b | 1\nb:b | 2\nb | 3\n');
  assert.deepEqual(logs.recent(['a'], 0), []);
  assert.deepEqual(logs.recent(['nobody'], 5), []);
  write(a, '\n');
  assert.equal(shown(logs.recent(['a'], 2)), 'a:a | 4\na:\n', 'an empty line is a line');
});

test('memory stays bounded: the oldest output goes first, the newest always stays', () => {
  const logs = new LogBuffer({ bytes: 100 });
  const copy = logs.copyOf('a');
  for (let i = 0; i < 10_000; i++) write(copy, `${String(i).padStart(29, 'x')}\n`);
  const kept = logs.recent(['a'], 1000);
  assert.equal(kept.length, 3, '3 lines of 30 bytes fit in 100');
  assert.equal(kept.at(-1)?.text, `${'9999'.padStart(29, 'x')}\n`);
  write(copy, `${'y'.repeat(500)}\n`);
  assert.deepEqual(
    logs.recent(['a'], 1000).map((l) => l.text),
    [`${'y'.repeat(99)}\n`],
    'a line longer than the whole buffer keeps its end',
  );
  write(copy, 'z\n');
  assert.deepEqual(
    logs.recent(['a'], 1000).map((l) => l.text),
    ['z\n'],
    'the rest of the long line, overwritten at its start, is gone',
  );
});

test('followers get the output of the components they follow until they stop', () => {
  const logs = new LogBuffer();
  const [a, b] = [logs.copyOf('a'), logs.copyOf('b')];
  const all: LogLine[] = [];
  const onlyB: LogLine[] = [];
  const stopAll = logs.follow([], (l) => all.push(l));
  logs.follow(['b'], (l) => onlyB.push(l));
  write(a, '1\n');
  write(b, '2\n');
  stopAll();
  write(a, '3\n');
  assert.equal(shown(all), 'a:1\nb:2\n');
  assert.equal(shown(onlyB), 'b:2\n');
});

test('across the ring wrapping around, what is read back is the last lines written, whole', () => {
  const logs = new LogBuffer({ bytes: 64 });
  const copy = logs.copyOf('a');
  const written: string[] = [];
  for (let i = 0; i < 500; i++) {
    // One to three lines of varying length per write, so writes straddle the ring's end.
    const lines = Array.from({ length: 1 + (i % 3) }, (_, j) => `${i}.${j}${'-'.repeat((i * 7 + j) % 11)}`);
    written.push(...lines);
    write(copy, `${lines.join('\n')}\n`);
    for (const n of [1, 2, 4]) {
      const read = shown(logs.recent(['a'], n)).replaceAll('a:', '');
      const lines = read.split('\n').slice(0, -1);
      assert.ok(lines.length >= 1 && lines.length <= n, `write ${i}, n ${n}: ${lines.length} lines`);
      assert.deepEqual(lines, written.slice(-lines.length), `write ${i}, n ${n}`);
    }
  }
});
