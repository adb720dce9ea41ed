import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BatchedWriter } from '../../src/process/batched-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-batched-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('writes reach the file in order within one turn of the event loop', { timeout: 10_000 }, async () => {
  const file = join(dir, 'order');
  const fd = openSync(file, 'w');
  const writer = new BatchedWriter(fd, (error) => assert.fail(error));
  const big = Buffer.alloc(300 * 1024, 'b'); // larger than a batch: written around the batch, in order
  writer.write(Buffer.from('one\n'));
  writer.write(big);
  writer.write(Buffer.from('two\n'));
  assert.equal(
    readFileSync(file, 'latin1'),
    `one\n${big.toString('latin1')}`,
    'the batch went out before the big write',
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(readFileSync(file, 'latin1'), `one\n${big.toString('latin1')}two\n`);
  writer.stop();
  closeSync(fd);
});

test('a process that exits right after writing leaves nothing unwritten', { timeout: 30_000 }, () => {
  const file = join(dir, 'exit');
  const script = `
    import { openSync } from 'node:fs';
    import { BatchedWriter } from ${JSON.stringify(new URL('../../src/process/batched-writer.ts', import.meta.url).href)};
    const writer = new BatchedWriter(openSync(${JSON.stringify(file)}, 'w'), () => process.exit(3));
    for (let i = 1; i <= 1000; i++) writer.write(Buffer.from('line ' + i + '\\n'));
    process.exit(0);
  `;
  execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: 'inherit',
  });
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.length, 1001);
  assert.equal(lines[999], 'line 1000');
});

test('a failing write is reported once and later writes are dropped', { timeout: 10_000 }, () => {
  const fd = openSync('/dev/full', 'w'); // every write fails with ENOSPC
  const errors: Error[] = [];
  const writer = new BatchedWriter(fd, (error) => errors.push(error));
  writer.write(Buffer.from('lost\n'));
  writer.flush();
  writer.write(Buffer.from('dropped\n'));
  writer.flush();
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ENOSPC');
  writer.stop();
  closeSync(fd);
});
