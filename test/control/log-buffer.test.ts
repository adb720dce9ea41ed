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
    logs.recent(['a'], 1000).map((l) => l.text.length),
    [501],
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
