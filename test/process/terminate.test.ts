import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { isAlive } from '../../src/containment/liveness.js';
import { spawnChild, type SpawnedChild } from '../../src/process/spawn.js';
import { exitStatusOf, isGroupGone, ProcessExitError, terminate } from '../../src/process/terminate.js';
import { fixture, groupMembers, killPids, LineReader, waitUntil } from '../helpers/process.js';

/** Spawns `argv` and waits for its `ready` line; returns the child and every pid it printed. */
async function start(argv: string[]): Promise<{ child: SpawnedChild; lines: LineReader }> {
  const child = await spawnChild({ argv });
  const lines = new LineReader(child.child.stdout ?? process.stdin);
  await lines.next(/^ready/);
  return { child, lines };
}

const target = (child: SpawnedChild) => ({ pgid: child.pid, exited: child.exited });

test('a normal stop: SIGTERM ends the child, not forced', { timeout: 10_000 }, async () => {
  const { child } = await start([fixture('forever')]);
  try {
    const result = await terminate(target(child), { stopTimeout: 5_000 });
    assert.deepEqual(
      { exitCode: result.exitCode, signal: result.signal, forced: result.forced },
      { exitCode: null, signal: 'SIGTERM', forced: false },
    );
    assert.ok(result.durationMs < 5_000);
    assert.equal(isAlive(child.pid), false);
  } finally {
    killPids([child.pid]);
  }
});

test('the configured stop signal is the one sent', { timeout: 10_000 }, async () => {
  const { child } = await start([fixture('forever')]);
  try {
    const result = await terminate(target(child), { stopSignal: 'SIGUSR1' });
    assert.equal(result.signal, 'SIGUSR1');
    assert.equal(result.stopSignal, 'SIGUSR1');
  } finally {
    killPids([child.pid]);
  }
});

test(
  'a child that ignores SIGTERM is SIGKILLed after stopTimeout (forced)',
  { timeout: 10_000 },
  async () => {
    const { child } = await start([fixture('ignore-sigterm')]);
    try {
      const result = await terminate(target(child), { stopTimeout: 300 });
      assert.equal(result.signal, 'SIGKILL');
      assert.equal(result.forced, true);
      assert.ok(result.durationMs >= 300, `stopped after ${result.durationMs}ms`);
      assert.equal(isAlive(child.pid), false);
      const error = new ProcessExitError('envoy', result);
      assert.equal(error.message, 'component `envoy` was killed by SIGKILL after ignoring SIGTERM for 300ms');
      assert.equal(error.exitStatus, 137);
    } finally {
      killPids([child.pid]);
    }
  },
);

test(
  'stopTimeout is measured on the injected clock: nothing is killed before it runs out',
  { timeout: 10_000 },
  async () => {
    const clock = new ManualClock();
    const { child } = await start([fixture('ignore-sigterm')]);
    try {
      let settled = false;
      const stopping = terminate(target(child), { stopTimeout: 10_000, clock }).finally(() => {
        settled = true;
      });
      await waitUntil(() => clock.pendingSleeps === 1, 'terminate waits on the clock');
      // Real time passes; the child ignores SIGTERM and is still there.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(settled, false);
      assert.equal(isAlive(child.pid), true);
      await clock.advance(9_999);
      assert.equal(isAlive(child.pid), true);
      await clock.advance(1);
      const result = await stopping;
      assert.equal(result.forced, true);
      assert.equal(result.durationMs, 10_000);
    } finally {
      killPids([child.pid]);
    }
  },
);

test('grandchildren in the group are gone when the stop resolves', { timeout: 10_000 }, async () => {
  const { child, lines } = await start([fixture('spawn-grandchildren'), '3']);
  const grandchildren = lines.numbers(/^grandchild (\d+)/);
  try {
    assert.equal(grandchildren.length, 3);
    assert.ok(grandchildren.every(isAlive));
    const result = await terminate(target(child));
    assert.equal(result.forced, false);
    assert.deepEqual(groupMembers(child.pid), []);
    assert.deepEqual(grandchildren.filter(isAlive), []);
  } finally {
    killPids([child.pid, ...grandchildren]);
  }
});

test(
  'a grandchild that ignores SIGTERM keeps the stop going until SIGKILL, though the child exited',
  { timeout: 10_000 },
  async () => {
    // The grandchild announces itself only once its trap is set, so the stop cannot come first.
    const script = `(trap '' TERM; echo "grandchild $BASHPID"; exec sleep infinity >/dev/null) & echo ready; wait`;
    const { child, lines } = await start(['/bin/bash', '-c', script]);
    await lines.next(/^grandchild/);
    const grandchildren = lines.numbers(/^grandchild (\d+)/);
    try {
      const result = await terminate(target(child), { stopTimeout: 300 });
      assert.equal(result.signal, 'SIGTERM');
      assert.equal(result.forced, true);
      assert.deepEqual(grandchildren.filter(isAlive), []);
      assert.equal(
        new ProcessExitError('app', result).message,
        'component `app` left processes that were killed by SIGKILL after ignoring SIGTERM for 300ms',
      );
    } finally {
      killPids([child.pid, ...grandchildren]);
    }
  },
);

test(
  'a child that already exited: its exit code is reported and its leftovers are stopped',
  { timeout: 10_000 },
  async () => {
    const { child, lines } = await start([fixture('spawn-grandchildren'), '2', '--exit']);
    const grandchildren = lines.numbers(/^grandchild (\d+)/);
    try {
      assert.deepEqual(await child.exited, { exitCode: 0, signal: null });
      assert.equal(isGroupGone(child.pid), false);
      const result = await terminate(target(child));
      assert.equal(result.exitCode, 0);
      assert.equal(result.forced, false);
      assert.deepEqual(grandchildren.filter(isAlive), []);
      assert.equal(isGroupGone(child.pid), true);
    } finally {
      killPids([child.pid, ...grandchildren]);
    }
  },
);

test(
  'the extra kill and emptiness hooks are used (the cgroup layer plugs in here)',
  { timeout: 10_000 },
  async () => {
    const { child, lines } = await start([fixture('setsid-escapee')]);
    const [escapee = 0] = lines.numbers(/^escapee (\d+)/);
    try {
      let killed = 0;
      const result = await terminate(
        {
          ...target(child),
          // Stands in for cgroup.kill: the escapee left the group, so only this reaches it.
          killAll: () => {
            killed++;
            process.kill(escapee, 'SIGKILL');
          },
          isEmpty: () => !isAlive(escapee),
        },
        { stopTimeout: 200 },
      );
      assert.equal(result.forced, true);
      assert.ok(killed >= 1);
      assert.equal(isAlive(escapee), false);
    } finally {
      killPids([child.pid, escapee]);
    }
  },
);

test('exit statuses follow the shell, and messages name the component and the ending', () => {
  assert.equal(exitStatusOf({ exitCode: 3, signal: null }), 3);
  assert.equal(exitStatusOf({ exitCode: null, signal: 'SIGSEGV' }), 139);
  assert.equal(exitStatusOf({ exitCode: null, signal: 'SIGTERM' }), 143);
  const crashed = new ProcessExitError('api', { exitCode: null, signal: 'SIGSEGV' });
  assert.equal(crashed.message, 'component `api` was killed by SIGSEGV');
  assert.equal(crashed.code, 'PROCESS_EXITED');
  assert.deepEqual(
    {
      exitCode: crashed.exitCode,
      signal: crashed.signal,
      forced: crashed.forced,
      exitStatus: crashed.exitStatus,
    },
    { exitCode: null, signal: 'SIGSEGV', forced: false, exitStatus: 139 },
  );
  assert.equal(
    new ProcessExitError('api', { exitCode: 2, signal: null }).message,
    'component `api` exited with code 2',
  );
  assert.equal(
    new ProcessExitError('api', { exitCode: 1, signal: null, stopSignal: 'SIGQUIT' }).message,
    'component `api` exited with code 1 after SIGQUIT',
  );
});
