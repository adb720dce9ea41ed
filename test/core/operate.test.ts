import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component } from '../../src/core/component.js';
import { InvalidStackError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { eventually, record, Scripted } from '../helpers/components.js';

const T = { timeout: 10_000 };

/** db ← app ← web, each ready at once: a chain with a middle. */
function chain(log: string[], options: { clock?: ManualClock } = {}) {
  const manager = new Manager(options.clock ? { clock: options.clock } : {});
  const db = new Scripted('db', log, { readyAtOnce: true });
  const app = new Scripted('app', log, { readyAtOnce: true, dependsOn: ['db'] });
  const web = new Scripted('web', log, { readyAtOnce: true, dependsOn: ['app'] });
  for (const c of [db, app, web]) manager.add(c);
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  return { manager, db, app, web, stop, run };
}

const stateOf = (manager: Manager, name: string) => manager.status().find((s) => s.name === name)?.state;

test(
  'stopComponents stops the named one and its dependents in reverse order, and nothing else',
  T,
  async () => {
    const log: string[] = [];
    const { manager, db, app, web, stop, run } = chain(log);
    await manager.whenReady();
    log.length = 0;
    await manager.stopComponents(['app']);
    assert.deepEqual(log, ['stopping:web', 'stop:web', 'stopping:app', 'stop:app']);
    assert.equal(stateOf(manager, 'app'), 'stopped');
    assert.equal(stateOf(manager, 'web'), 'stopped');
    assert.equal(stateOf(manager, 'db'), 'ready');
    assert.equal(manager.ready(), false, 'a stack with a stopped component is not ready');
    assert.equal(manager.phase(), 'running', 'a stopped component is not a failure');
    assert.deepEqual([db.starts, app.starts, web.starts], [1, 1, 1]);

    await manager.startComponents(['app']);
    assert.deepEqual([db.starts, app.starts, web.starts], [1, 2, 2], 'app and its dependent started again');
    assert.deepEqual(log.slice(4), ['start:app', 'start:web']);
    assert.equal(manager.ready(), true);
    stop.abort();
    await run;
  },
);

test(
  'restartComponents restarts a middle component and its dependents, not its dependencies',
  T,
  async () => {
    const log: string[] = [];
    const { manager, db, app, web, stop, run } = chain(log);
    const events = record(manager);
    await manager.whenReady();
    await manager.restartComponents(['app']);
    assert.deepEqual([db.starts, app.starts, web.starts], [1, 2, 2]);
    const stopping = events.filter((e) => e.type === 'component.stopping');
    assert.deepEqual(
      stopping.map((e) => [e.component, e.reason]),
      [
        ['web', 'operator'],
        ['app', 'operator'],
      ],
    );
    assert.equal(manager.ready(), true);
    assert.equal(
      events.some((e) => e.type === 'shutdown.started'),
      false,
      'the run goes on',
    );
    stop.abort();
    await run;
    assert.deepEqual(log.slice(-6), [
      'stopping:web',
      'stop:web',
      'stopping:app',
      'stop:app',
      'stopping:db',
      'stop:db',
    ]);
  },
);

test('starting a component starts the stopped dependencies it needs first', T, async () => {
  const log: string[] = [];
  const { manager, stop, run } = chain(log);
  await manager.whenReady();
  await manager.stopComponents(['db']);
  assert.deepEqual(
    manager.status().map((s) => s.state),
    ['stopped', 'stopped', 'stopped'],
  );
  log.length = 0;
  await manager.startComponents(['web']);
  assert.deepEqual(log, ['start:db', 'start:app', 'start:web']);
  stop.abort();
  await run;
});

test(
  'a drainable component drains before it is stopped; a slow stop is reported at its stop timeout',
  T,
  async () => {
    const clock = new ManualClock();
    const manager = new Manager({ clock });
    const events = record(manager);
    const log: string[] = [];
    let release = (): void => undefined;
    const slow = new Scripted('slow', log, {
      readyAtOnce: true,
      stopTimeout: 1_000,
      cleanup: () => new Promise<void>((resolve) => (release = resolve)),
    });
    const drainable: Component = {
      name: 'slow',
      stopTimeout: 1_000,
      run: (signal, ctx) => slow.run(signal, ctx),
      drain: () => {
        log.push('drain:slow');
        return Promise.resolve();
      },
    };
    manager.add(drainable);
    const stop = new AbortController();
    const run = manager.run(stop.signal);
    await manager.whenReady();
    const stopping = manager.stopComponents(['slow']);
    await eventually(() => log.includes('stopping:slow'));
    assert.deepEqual(log.slice(1), ['drain:slow', 'stopping:slow']);
    await clock.advance(1_000);
    assert.ok(events.some((e) => e.type === 'component.stop-timeout' && e.component === 'slow'));
    release();
    await stopping;
    assert.equal(stateOf(manager, 'slow'), 'stopped');
    stop.abort();
    await run;
  },
);

test('an unknown name changes nothing; after the shutdown began, start is refused', T, async () => {
  const log: string[] = [];
  const { manager, stop, run } = chain(log);
  await manager.whenReady();
  await assert.rejects(manager.stopComponents(['app', 'nope']), { code: 'UNKNOWN_COMPONENT' });
  assert.equal(stateOf(manager, 'app'), 'ready');
  stop.abort();
  await assert.rejects(manager.startComponents(['app']), { code: 'MANAGER_STOPPED' });
  await run;
});

test('the whole stack stops cleanly with some components stopped', T, async () => {
  const log: string[] = [];
  const { manager, stop, run } = chain(log);
  await manager.whenReady();
  await manager.stopComponents(['web']);
  stop.abort();
  await run;
  assert.equal(manager.phase(), 'stopped');
});

test(
  'reconfigure: replaced restarts with its dependents, removed stops, added starts, unchanged keeps running',
  T,
  async () => {
    const log: string[] = [];
    const manager = new Manager();
    const db = new Scripted('db', log, { readyAtOnce: true });
    const app = new Scripted('app', log, { readyAtOnce: true, dependsOn: ['db'] });
    const web = new Scripted('web', log, { readyAtOnce: true, dependsOn: ['app'] });
    const old = new Scripted('old', log, { readyAtOnce: true });
    for (const c of [db, app, web, old]) manager.add(c);
    const stop = new AbortController();
    const run = manager.run(stop.signal);
    await manager.whenReady();

    const app2 = new Scripted('app', log, { readyAtOnce: true, dependsOn: ['db'] });
    const extra = new Scripted('extra', log, { readyAtOnce: true, dependsOn: ['web'] });
    await manager.reconfigure({ remove: ['old'], replace: [app2], add: [extra] });
    assert.deepEqual([...manager.components().keys()], ['db', 'app', 'web', 'extra']);
    assert.equal(manager.components().get('app'), app2);
    assert.deepEqual([db.starts, app.starts, app2.starts, web.starts, extra.starts], [1, 1, 1, 2, 1]);
    assert.ok(log.includes('stop:old'));
    assert.equal(manager.ready(), true);

    // The new links hold: restarting the new app restarts web and the added component too.
    await manager.restartComponents(['app']);
    assert.deepEqual([db.starts, app2.starts, web.starts, extra.starts], [1, 2, 3, 2]);
    stop.abort();
    await run;
    assert.deepEqual(log.slice(-2), ['stopping:db', 'stop:db'], 'db stops last, after its new dependents');
  },
);

test('reconfigure into an invalid graph throws and changes nothing', T, async () => {
  const log: string[] = [];
  const { manager, db, app, web, stop, run } = chain(log);
  await manager.whenReady();
  // Removing db leaves app depending on a component that does not exist.
  await assert.rejects(manager.reconfigure({ remove: ['db'] }), (error) => {
    assert.ok(error instanceof InvalidStackError);
    assert.equal(error.code, 'UNKNOWN_DEPENDENCY');
    return true;
  });
  assert.deepEqual(
    manager.status().map((s) => s.state),
    ['ready', 'ready', 'ready'],
  );
  assert.deepEqual([db.starts, app.starts, web.starts], [1, 1, 1]);
  stop.abort();
  await run;
});

test('a component that fails while the operator stops it is reported, and the rest runs on', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const db = new Scripted('db', log, { readyAtOnce: true });
  const stubborn = new Scripted('stubborn', log, { readyAtOnce: true, ignoreStop: true, dependsOn: ['db'] });
  manager.add(db);
  manager.add(stubborn);
  const events = record(manager);
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await manager.whenReady();
  const stopping = manager.stopComponents(['stubborn']);
  await eventually(() => stubborn.signal?.aborted === true);
  stubborn.end(new Error('killed by SIGKILL after ignoring SIGTERM'));
  await stopping;
  assert.equal(stateOf(manager, 'stubborn'), 'failed');
  assert.ok(events.some((e) => e.type === 'component.failed' && e.component === 'stubborn'));
  assert.equal(manager.phase(), 'running', 'no shutdown');
  assert.equal(stateOf(manager, 'db'), 'ready');
  const starting = manager.startComponents(['stubborn']);
  await starting;
  assert.equal(manager.ready(), true);
  stop.abort();
  await eventually(() => stubborn.signal?.aborted === true && stubborn.starts === 2);
  stubborn.end();
  await run;
});
