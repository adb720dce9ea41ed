import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component } from '../../src/core/component.js';
import { Entry } from '../../src/core/entry.js';

const component = (name: string, options: Partial<Component> = {}): Component => ({
  name,
  run: () => Promise.resolve(),
  ...options,
});

/** An entry's derived facts, read through a call so that the type-checker does not pin them. */
const facts = (entry: Entry) => ({
  running: entry.running,
  active: entry.active,
  stoppable: entry.stoppable,
});

/** Entries linked as the manager links them: each depends on the one before it. */
function chain(...names: string[]): Entry[] {
  const entries = names.map((name) => new Entry(component(name)));
  entries.forEach((entry, i) => {
    const below = entries[i - 1];
    if (!below) return;
    entry.dependencies.push(below);
    below.dependents.push(entry);
  });
  return entries;
}

test('an entry goes pending → starting → ready → stopping → stopped, its signal aborting with the reason', () => {
  const entry = new Entry(component('app'));
  assert.equal(entry.state, 'pending');
  assert.deepEqual(facts(entry), { running: false, active: false, stoppable: false });
  const { run, signal } = entry.start(undefined);
  assert.equal(entry.state, 'starting');
  assert.deepEqual(facts(entry), { running: true, active: true, stoppable: true });
  assert.equal(entry.markReady(run), true);
  assert.equal(entry.markReady(run), false, 'ready once');
  assert.equal(entry.state, 'ready');
  const seen: string[] = [];
  signal.addEventListener('abort', () => seen.push(`aborted while ${entry.state}`));
  const reason = new Error('stop');
  const stopped = entry.requestStop(reason, 1_000, () => seen.push(`announced while ${entry.state}`));
  assert.equal(stopped, run);
  assert.deepEqual(seen, ['announced while stopping', 'aborted while stopping']);
  assert.equal(signal.reason, reason);
  assert.equal(entry.stillStopping(run), true);
  assert.deepEqual(facts(entry), { running: true, active: false, stoppable: false });
  assert.equal(entry.markReady(run), false, 'a stopping entry does not become ready');
  // Rejecting with the stop's own reason is a clean stop.
  assert.equal(entry.settle(run, { error: reason })?.outcome, 'stopped');
  assert.equal(entry.state, 'stopped');
  assert.deepEqual(facts(entry), { running: false, active: false, stoppable: false });
  assert.equal(entry.stillStopping(run), false);
});

test('a run settles as completed on its own, as failed when it rejects, as failed when it rejects otherwise after a stop', () => {
  const completed = new Entry(component('job'));
  const a = completed.start(undefined);
  assert.equal(completed.settle(a.run, undefined)?.outcome, 'completed');
  assert.equal(completed.completed, true);
  assert.equal(completed.status().state, 'stopped', 'completed shows as stopped');

  const failed = new Entry(component('app'));
  const b = failed.start(undefined);
  assert.equal(failed.settle(b.run, { error: new Error('boom') })?.outcome, 'failed');
  assert.equal(failed.state, 'failed');
  assert.equal(failed.completed, false);

  const failedWhileStopping = new Entry(component('app'));
  const c = failedWhileStopping.start(undefined);
  failedWhileStopping.requestStop(new Error('stop'), 0, () => undefined);
  assert.equal(failedWhileStopping.settle(c.run, { error: new Error('cleanup failed') })?.outcome, 'failed');
});

test('callbacks of an earlier run change nothing in the next one', () => {
  const entry = new Entry(component('reconciler', { leader: true }));
  const first = entry.start(1);
  entry.requestStop(new Error('term over'), 0, () => undefined);
  entry.settle(first.run, undefined);
  entry.reset();
  assert.equal(entry.state, 'pending');
  assert.equal(entry.term, undefined);
  const second = entry.start(2);
  assert.equal(entry.term, 2);
  assert.notEqual(second.run, first.run);
  assert.equal(entry.markReady(first.run), false);
  assert.equal(entry.markRestarting(first.run), false);
  assert.equal(entry.settle(first.run, { error: new Error('late') }), undefined);
  assert.equal(entry.state, 'starting');
  assert.equal(entry.markRestarting(second.run), true);
  assert.equal(entry.status().restarts, 1);
  assert.equal(entry.state, 'restarting');
  assert.equal(entry.markReady(second.run), true);
});

test('reset is ignored while the entry runs', () => {
  const entry = new Entry(component('a'));
  entry.start(undefined);
  entry.reset();
  assert.equal(entry.state, 'starting');
  assert.equal(facts(entry).running, true);
});

test('an entry is stoppable only once nothing above it, through any chain, still runs', () => {
  const [dns, step, app] = chain('dns', 'step', 'app') as [Entry, Entry, Entry];
  const d = dns.start(undefined);
  const s = step.start(undefined);
  const a = app.start(undefined);
  // The one-shot step in between finishes first: dns is still held back by app above it.
  assert.deepEqual(step.settle(s.run, undefined)?.freed, []);
  assert.equal(facts(dns).stoppable, false);
  assert.equal(facts(app).stoppable, true);
  app.requestStop(new Error('stop'), 0, () => undefined);
  assert.deepEqual(
    app.settle(a.run, undefined)?.freed.map((e) => e.name),
    ['step', 'dns'],
    'the settle frees everything it held back, down the chain',
  );
  assert.equal(facts(dns).stoppable, true);
  dns.requestStop(new Error('stop'), 0, () => undefined);
  assert.equal(dns.settle(d.run, undefined)?.outcome, 'stopped');
});

test('a drain runs once per run, and the entry reports draining meanwhile', async () => {
  const entry = new Entry(component('proxy'));
  entry.start(undefined);
  let drains = 0;
  let finish = (): void => undefined;
  const drain = (): Promise<void> => {
    drains++;
    return new Promise((resolve) => (finish = resolve));
  };
  const first = entry.drainOnce(10, drain);
  assert.equal(entry.drainOnce(20, drain), first);
  assert.equal(drains, 1);
  assert.deepEqual(entry.stuck(25, 0), { component: 'proxy', phase: 'draining', forMs: 15 });
  finish();
  await first;
  assert.deepEqual(entry.stuck(30, 0), { component: 'proxy', phase: 'waiting', forMs: 30 });
  entry.requestStop(new Error('stop'), 40, () => undefined);
  assert.deepEqual(entry.stuck(45, 0), { component: 'proxy', phase: 'stopping', forMs: 5 });
});
