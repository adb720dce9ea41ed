import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ComponentFailedError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import { recordEvents } from '../../src/testing/record-events.js';
import { ScriptedComponent } from '../../src/testing/scripted-component.js';
import { eventually } from '../helpers/components.js';

test('ScriptedComponent logs its starts and stops in order, and recordEvents sees every event', async () => {
  const log: string[] = [];
  const manager = new Manager();
  const events = recordEvents(manager);
  const cache = new ScriptedComponent('cache', log, { readyAtOnce: true });
  const app = new ScriptedComponent('app', log, { dependsOn: ['cache'] });
  manager.add(cache);
  manager.add(app);
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await eventually(() => app.starts === 1);
  assert.equal(manager.ready(), false, 'app is not ready until the test says so');
  app.ready();
  await eventually(() => manager.ready());
  stop.abort();
  await run;
  assert.deepEqual(log, [
    'start:cache',
    'start:app',
    'stopping:app',
    'stop:app',
    'stopping:cache',
    'stop:cache',
  ]);
  const readied = events.flatMap((e) => (e.type === 'component.ready' ? [e.component] : []));
  assert.deepEqual(readied, ['cache', 'app']);
});

test('ScriptedComponent.end(error) fails the run with that error', async () => {
  const manager = new Manager();
  const job = new ScriptedComponent('job', [], { readyAtOnce: true });
  manager.add(job);
  const run = manager.run(new AbortController().signal);
  await eventually(() => job.starts === 1);
  const boom = new Error('boom');
  job.end(boom);
  await assert.rejects(run, (error) => {
    assert.ok(error instanceof ComponentFailedError);
    assert.equal(error.component, 'job');
    assert.equal(error.cause, boom);
    return true;
  });
});
