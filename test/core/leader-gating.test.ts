import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LeaderElector, Term } from '../../src/core/leadership.js';
import { ComponentFailedError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import { aborted, eventually, Scripted } from '../helpers/components.js';

const T = { timeout: 10_000 };
const tokenOf = (component: Scripted): number | undefined => component.ctx?.term?.token;

/**
 * An elector the test drives: `elect(token)` begins a term, `demote()` ends it and resolves once the
 * manager has handed leadership back. It records when each term was released.
 */
class ScriptedElector implements LeaderElector {
  log: string[] = [];
  #lead: ((term: Term) => Promise<void>) | undefined;
  #current: { controller: AbortController; done: Promise<void> } | undefined;

  async run(signal: AbortSignal, lead: (term: Term) => Promise<void>): Promise<void> {
    this.#lead = lead;
    await aborted(signal);
    await this.demote();
  }

  get campaigning(): boolean {
    return this.#lead !== undefined;
  }

  elect(token: number): void {
    assert.ok(this.#lead && !this.#current, 'one term at a time');
    const controller = new AbortController();
    this.log.push(`elected:${token}`);
    const done = this.#lead({ token, signal: controller.signal }).then(() => {
      this.log.push(`released:${token}`);
    });
    this.#current = { controller, done };
  }

  async demote(): Promise<void> {
    const current = this.#current;
    if (!current) return;
    current.controller.abort();
    await current.done;
    this.#current = undefined;
  }
}

test(
  'leader components start in a term with its token, stop when it ends, and start again in the next',
  T,
  async () => {
    const log: string[] = [];
    const elector = new ScriptedElector();
    elector.log = log;
    const manager = new Manager({ elector });
    const store = new Scripted('store', log, { readyAtOnce: true });
    const reconciler = new Scripted('reconciler', log, {
      leader: true,
      readyAtOnce: true,
      dependsOn: ['store'],
    });
    manager.add(store);
    manager.add(reconciler);
    const stop = new AbortController();
    const run = manager.run(stop.signal);
    await eventually(() => elector.campaigning && manager.ready());
    assert.equal(reconciler.starts, 0, 'not leader yet: leader components wait');

    elector.elect(7);
    await eventually(() => reconciler.starts === 1);
    assert.equal(tokenOf(reconciler), 7);
    await eventually(() => manager.ready());

    await elector.demote();
    assert.equal(reconciler.signal?.aborted, true);
    assert.ok(
      log.indexOf('stop:reconciler') < log.indexOf('released:7'),
      'released only after its components finished',
    );
    assert.equal(store.signal?.aborted, false, 'non-leader components keep running');

    elector.elect(9);
    await eventually(() => reconciler.starts === 2);
    assert.equal(tokenOf(reconciler), 9);

    stop.abort();
    await run;
    assert.deepEqual(
      log.filter((l) => /^(start|stop|elected|released):/.test(l)),
      [
        'start:store',
        'elected:7',
        'start:reconciler',
        'stop:reconciler',
        'released:7',
        'elected:9',
        'start:reconciler',
        'stop:reconciler',
        'released:9',
        'stop:store',
      ],
    );
  },
);

test('terms never overlap: each term starts only after the previous term was released', T, async () => {
  const log: string[] = [];
  const elector = new ScriptedElector();
  elector.log = log;
  const manager = new Manager({ elector });
  const slowStop = () => new Promise<void>((resolve) => setTimeout(resolve, 20));
  manager.add(new Scripted('a', log, { leader: true, readyAtOnce: true, cleanup: slowStop }));
  manager.add(new Scripted('b', log, { leader: true, readyAtOnce: true, dependsOn: ['a'] }));
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await eventually(() => elector.campaigning);
  for (const token of [1, 2, 3]) {
    elector.elect(token);
    await eventually(() => manager.ready());
    await elector.demote();
  }
  stop.abort();
  await run;
  // Within each term: a (dependency) starts first and stops last; no start while another term is live.
  let live = 0;
  for (const line of log.filter((l) => /^(start|stop):/.test(l))) {
    live += line.startsWith('start:') ? 1 : -1;
    assert.ok(live >= 0 && live <= 2);
  }
  const released = log.filter((l) => l.startsWith('released:') || l.startsWith('elected:'));
  assert.deepEqual(released, [
    'elected:1',
    'released:1',
    'elected:2',
    'released:2',
    'elected:3',
    'released:3',
  ]);
  for (const token of [1, 2, 3]) {
    const from = log.indexOf(`elected:${token}`);
    const to = log.indexOf(`released:${token}`);
    assert.deepEqual(
      log.slice(from, to).filter((l) => /^(start|stop):/.test(l)),
      ['start:a', 'start:b', 'stop:b', 'stop:a'],
    );
  }
});

test("a leader component's failure fails the run", T, async () => {
  const log: string[] = [];
  const elector = new ScriptedElector();
  const manager = new Manager({ elector });
  const job = new Scripted('job', log, { leader: true, readyAtOnce: true });
  const plain = new Scripted('plain', log, { readyAtOnce: true });
  manager.add(job);
  manager.add(plain);
  const run = manager.run(new AbortController().signal);
  await eventually(() => elector.campaigning);
  elector.elect(1);
  await eventually(() => job.starts === 1);
  job.end(new Error('reconcile failed'));
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof ComponentFailedError);
    assert.equal(e.component, 'job');
    return true;
  });
  assert.ok(log.includes('stop:plain'));
});

test('a non-leader component may not depend on a leader component', T, async () => {
  const manager = new Manager({ elector: new ScriptedElector() });
  manager.add(new Scripted('job', [], { leader: true }));
  manager.add(new Scripted('api', [], { dependsOn: ['job'] }));
  await assert.rejects(manager.run(new AbortController().signal), { code: 'LEADER_DEPENDENCY' });
});

test('the default elector makes a single instance leader with token 1', T, async () => {
  const log: string[] = [];
  const manager = new Manager();
  const job = new Scripted('job', log, { leader: true, readyAtOnce: true });
  manager.add(job);
  const stop = new AbortController();
  const run = manager.run(stop.signal);
  await eventually(() => job.starts === 1);
  assert.equal(job.ctx?.term?.token, 1);
  stop.abort();
  await run;
  assert.ok(log.includes('stop:job'));
});
