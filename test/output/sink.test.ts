import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type OutputEvent, OutputSink } from '../../src/output/forward.js';
import { fillFileSystem, withTmpfs } from '../helpers/tmpfs.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file sink with its events collected. */
function open(path: string): { sink: OutputSink; events: OutputEvent[] } {
  const events: OutputEvent[] = [];
  const sink = OutputSink.openFile(path, { onEvent: (event) => events.push(event) });
  return { sink, events };
}

test('a file that ends in an unterminated line gets it terminated before the first new line', async () => {
  const path = join(dir, 'torn.log');
  writeFileSync(path, 'left by a crash');
  const { sink } = open(path);
  sink.write(Buffer.from('next\n'), 'app');
  await sink.close();
  assert.equal(readFileSync(path, 'utf8'), 'left by a crash\nnext\n');
});

test('a writer’s unterminated line is ended before another writer’s bytes, not before its own', async () => {
  const path = join(dir, 'shared.log');
  const { sink } = open(path);
  // A cut over-long line in raw comes in pieces without newlines: they stay one line.
  sink.write(Buffer.from('aaa'), 'a');
  sink.write(Buffer.from('bbb'), 'a');
  sink.write(Buffer.from('b-line\n'), 'b');
  sink.write(Buffer.from('last, unterminated'), 'b');
  sink.sourceEnded('b');
  // The same name again (a restarted component): its last line had ended.
  sink.write(Buffer.from('again\n'), 'b');
  await sink.close();
  assert.equal(readFileSync(path, 'utf8'), 'aaabbb\nb-line\nlast, unterminated\nagain\n');
});

test('a device that takes nothing: lines are dropped, counted per writer, and reported once per outage', async () => {
  const events: OutputEvent[] = [];
  const sink = new OutputSink(
    { fd: openSync('/dev/full', 'w') },
    {
      name: '/dev/full',
      owned: true,
      onEvent: (event) => events.push(event),
    },
  );
  assert.equal(sink.write(Buffer.from('one\ntwo\n'), 'a'), true);
  sink.write(Buffer.from('three\n'), 'a');
  sink.write(Buffer.from('x\ny\nunterminated'), 'b');
  assert.deepEqual(Object.fromEntries(sink.droppedLines()), { a: 3, b: 3 });
  assert.deepEqual(
    events.map((e) => [e.type, e.component]),
    [
      ['output.dropping', 'a'],
      ['output.dropping', 'b'],
    ],
  );
  const first = events[0];
  assert.ok(first?.type === 'output.dropping');
  assert.equal(first.destination, '/dev/full');
  assert.equal((first.error as NodeJS.ErrnoException).code, 'ENOSPC');
  await sink.close();
  // Never resumed: the counts are reported as the sink closes.
  assert.deepEqual(
    events.slice(2).map((e) => e.type === 'output.dropped' && [e.component, e.lines, e.resumed]),
    [
      ['a', 3, false],
      ['b', 3, false],
    ],
  );
});

test(
  'a full disk: a torn line is ended, writing resumes when space returns, and every dropped line is counted',
  { timeout: 30_000 },
  async () => {
    await withTmpfs('64k', async (mount) => {
      const path = join(mount, 'app.log');
      const filler = join(mount, 'filler');
      const { sink, events } = open(path);
      // Lines until the disk is full, then some more; a line's number tells whether it arrived.
      let n = 0;
      const line = (): Buffer => Buffer.from(`line ${++n} ${'x'.repeat(50)}\n`);
      // A few lines first: the file's last page then has room left, and the line that crosses
      // into the next page is written in part (55 bytes a line do not divide 4096).
      for (let i = 0; i < 10; i++) sink.write(line(), 'app');
      fillFileSystem(filler);
      while (events.length === 0) sink.write(line(), 'app');
      for (let i = 0; i < 100; i++) sink.write(line(), 'app');
      const dropped = sink.droppedLines().get('app') ?? 0;
      assert.ok(dropped >= 100, `${dropped} lines counted as dropped`);
      unlinkSync(filler);
      for (let i = 0; i < 10; i++) sink.write(line(), 'app');
      await sink.close();

      assert.deepEqual(
        events.map((e) => e.type),
        ['output.dropping', 'output.dropped'],
      );
      const report = events[1];
      assert.ok(report?.type === 'output.dropped' && report.resumed);
      assert.equal(report.lines, dropped);
      // Whole lines in order, gaps where lines were dropped; at most one torn line, ended.
      const written = readFileSync(path, 'utf8').split('\n');
      assert.equal(written.pop(), '', 'the file ends with a newline');
      const whole = written.filter((l) => /^line \d+ x{50}$/.test(l)).map((l) => Number(l.split(' ')[1]));
      const torn = written.filter((l) => !/^line \d+ x{50}$/.test(l));
      assert.equal(torn.length, 1, `torn lines: ${JSON.stringify(torn)}`);
      // It is the start of the first line that did not arrive whole.
      const firstMissing = whole.findIndex((v, i) => v !== i + 1) + 1;
      const full = `line ${firstMissing} ${'x'.repeat(50)}`;
      assert.ok(torn[0] !== undefined && torn[0].length < full.length && full.startsWith(torn[0]));
      assert.ok(
        whole.every((v, i) => i === 0 || v > (whole[i - 1] ?? 0)),
        'in order',
      );
      assert.equal(whole.at(-1), n, 'the last line arrived after space returned');
      assert.equal(n - whole.length, dropped, 'every line that did not arrive was counted');
    });
  },
);
