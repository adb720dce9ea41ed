import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogBuffer } from '../../src/control/log-buffer.js';
import type { LogLine } from '../../src/control/protocol.js';

const texts = (lines: readonly LogLine[]) => lines.map((l) => `${l.component}:${l.text}`);

test('keeps the last lines of each component, in the order they came', () => {
  const logs = new LogBuffer({ lines: 3 });
  const [a, b] = [logs.tap('a'), logs.tap('b')];
  assert.equal(logs.tap('a'), a, 'one tap per name, run after run');
  for (let i = 1; i <= 10; i++) {
    a.publish(`a${i}`, 'stdout');
    if (i % 2 === 0) b.publish(`b${i}`, 'stderr');
  }
  assert.deepEqual(texts(logs.recent([], 2)), ['b:b8', 'a:a9', 'a:a10', 'b:b10']);
  assert.deepEqual(texts(logs.recent(['b'], 100)), ['b:b6', 'b:b8', 'b:b10'], 'at most 3 kept');
  assert.deepEqual(logs.recent(['a'], 0), []);
  assert.deepEqual(logs.recent(['nobody'], 5), []);
  assert.equal(logs.recent(['b'], 1)[0]?.stream, 'stderr');
});

test('memory stays bounded by characters too: the oldest lines go first, the newest always stays', () => {
  const logs = new LogBuffer({ lines: 1000, chars: 100 });
  const tap = logs.tap('a');
  for (let i = 0; i < 10_000; i++) tap.publish(`${i}`.padStart(30, 'x'), 'stdout');
  const kept = logs.recent(['a'], 1000);
  assert.equal(kept.length, 3);
  assert.equal(kept.at(-1)?.text, '9999'.padStart(30, 'x'));
  tap.publish('y'.repeat(500), 'stdout');
  assert.deepEqual(
    logs.recent(['a'], 1000).map((l) => l.text.length),
    [500],
  );
});

test('followers get every new line of the components they follow until they stop', () => {
  const logs = new LogBuffer();
  const [a, b] = [logs.tap('a'), logs.tap('b')];
  const all: LogLine[] = [];
  const onlyB: LogLine[] = [];
  const stopAll = logs.follow([], (l) => all.push(l));
  logs.follow(['b'], (l) => onlyB.push(l));
  a.publish('1', 'stdout');
  b.publish('2', 'stdout');
  stopAll();
  a.publish('3', 'stdout');
  assert.deepEqual(texts(all), ['a:1', 'b:2']);
  assert.deepEqual(texts(onlyB), ['b:2']);
  assert.ok(!('seq' in (all[0] ?? {})), 'lines go out as the protocol has them');
});
