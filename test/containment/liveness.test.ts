import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { isAlive, parseStat, ProcessTable, readStat } from '../../src/containment/liveness.js';
import {
  descendants,
  fixture,
  groupMembers,
  killPids,
  LineReader,
  waitGone,
  waitUntil,
} from '../helpers/process.js';

test('parseStat reads fields after a comm that contains spaces and parentheses', () => {
  const stat = parseStat('4242 (a (b) c) S 1 4242 4240 0 -1 4194560 ...');
  assert.deepEqual(stat, { pid: 4242, comm: 'a (b) c', state: 'S', ppid: 1, pgid: 4242, sid: 4240 });
  assert.equal(parseStat('garbage'), undefined);
});

test('readStat sees this process, and nothing for a pid that does not exist', () => {
  const self = readStat(process.pid);
  assert.equal(self?.pid, process.pid);
  assert.equal(self.ppid, process.ppid);
  // pid_max is at most 4194304, so this pid cannot exist.
  assert.equal(readStat(4_194_305), undefined);
  assert.equal(isAlive(4_194_305), false);
});

test('a zombie is not alive, though kill(pid, 0) still succeeds on it', { timeout: 10_000 }, async () => {
  // Node reaps its own children, so make a grandchild zombie: bash starts a subshell that exits
  // only once bash has exec'd into `sleep`, which never reaps it. ($$ in a subshell is bash's pid.)
  const script = '(until grep -qx sleep /proc/$$/comm; do sleep 0.01; done) & echo $!; exec sleep 30';
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = new LineReader(child.stdout);
    const zombie = Number((await lines.next(/^(\d+)$/))[1]);
    await waitUntil(() => readStat(zombie)?.state === 'Z', 'child of bash becomes a zombie');
    assert.doesNotThrow(() => process.kill(zombie, 0));
    assert.equal(isAlive(zombie), false);
    assert.equal(isAlive(child.pid ?? 0), true);
  } finally {
    killPids([child.pid ?? 0]);
  }
});

test('groupMembers and descendants find a fixture and its grandchildren', { timeout: 10_000 }, async () => {
  const child = spawn(fixture('spawn-grandchildren'), ['2'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = child.pid ?? 0;
  const lines = new LineReader(child.stdout);
  try {
    await lines.next(/^ready/);
    const grandchildren = lines.numbers(/^grandchild (\d+)/);
    assert.equal(grandchildren.length, 2);
    const all = [pid, ...grandchildren].sort((a, b) => a - b);
    assert.deepEqual(groupMembers(pid), all);
    assert.deepEqual(
      descendants(pid),
      grandchildren.sort((a, b) => a - b),
    );
    assert.ok(descendants(process.pid).includes(pid));

    process.kill(-pid, 'SIGKILL');
    await waitGone(all);
    assert.deepEqual(groupMembers(pid), []);
  } finally {
    killPids([pid]);
  }
});

test(
  'a process table serves one snapshot while it is fresh, and a new one after',
  { timeout: 10_000 },
  async () => {
    const fresh = new ProcessTable(60_000);
    const stale = new ProcessTable(0);
    const first = fresh.list();
    assert.ok(first.some((p) => p.pid === process.pid));
    assert.equal(stale.list().length > 0, true);
    const child = spawn(fixture('forever'), [], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    try {
      await waitUntil(() => readStat(pid) !== undefined, 'the child is in /proc');
      assert.equal(fresh.list(), first, 'the same snapshot, without the new process');
      assert.ok(!first.some((p) => p.pid === pid));
      assert.ok(
        stale.list().some((p) => p.pid === pid),
        'a new snapshot sees it',
      );
    } finally {
      killPids([pid]);
    }
  },
);
