import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { pinoEventLogger } from '../../src/adapters/pino.js';
import { fromFunction } from '../../src/core/component.js';
import { Manager } from '../../src/core/manager.js';

test('runtime events become pino records with a level, the event type, fields and a message', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  const manager = new Manager();
  manager.on(pinoEventLogger(pino({ level: 'debug' }, sink)));
  manager.add(fromFunction('broken', () => Promise.reject(new Error('no config'))));
  await assert.rejects(manager.run(new AbortController().signal));
  const failed = lines.find((l) => l.event === 'component.failed');
  assert.ok(failed);
  assert.equal(failed.level, 50);
  assert.equal(failed.component, 'broken');
  assert.equal(failed.msg, 'component `broken` failed: no config');
  assert.equal((failed.err as { message: string }).message, 'no config');
  assert.deepEqual(
    lines.map((l) => l.event),
    [
      'component.starting',
      'component.ready',
      'component.failed',
      'shutdown.started',
      'shutdown.phase',
      'shutdown.phase',
    ],
  );
});
