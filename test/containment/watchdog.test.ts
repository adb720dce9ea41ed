import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isAlive, readStat } from '../../src/containment/liveness.js';
import type { WarningEvent } from '../../src/core/events.js';
import { Isolation } from '../../src/containment/isolation.js';
import { Watchdog, WatchdogLostError } from '../../src/containment/watchdog.js';
import { alive, cleanUpHosts, startHost, survivors } from '../fixtures/iso-harness.js';
import { fixture, killPids, LineReader, waitGone, waitUntil } from '../helpers/process.js';

after(cleanUpHosts);

/** Starts iso-tree in its own group from this process: returns its pid and every member's. */
async function startTree(args: readonly string[]): Promise<{ pid: number; pids: number[] }> {
  const child = spawn(fixture('iso-tree'), args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = new LineReader(child.stdout);
  const pid = Number((await lines.next(/^ready (\d+)$/))[1]);
  child.unref();
  child.stdout.destroy();
  return { pid, pids: [pid, ...lines.numbers(/^member (\d+)$/)] };
}

/** The SigIgn mask of /proc/<pid>/status (bit n-1 set: signal n ignored). */
function ignoredSignals(pid: number): bigint {
  const match = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return BigInt(`0x${match?.[1] ?? '0'}`);
}

function mustStart(
  onWarning?: (warning: WarningEvent) => void,
  graceMs = 1000,
  onLost?: (error: WatchdogLostError) => void,
): Watchdog {
  return new Watchdog({
    graceMs,
    ...(onWarning ? { onWarning } : {}),
    ...(onLost ? { onLost } : {}),
  });
}

describe('watchdog: a SIGKILLed Corral leaves no process group behind', { timeout: 120_000 }, () => {
  test('registered groups are gone within 2 s of the host being SIGKILLed', async () => {
    const host = await startHost({ tree: ['--members', '3'], watchdog: { graceMs: 1000 } });
    const pids = Object.values(host.pids).flat();
    assert.equal(pids.length, 4, 'tree and three members');
    assert.deepEqual(alive(pids), pids);
    await host.kill();
    await waitGone(pids, 2000);
    // With every group empty it does not wait out its grace period.
    await waitGone([host.json('watchdog') as number], 5000);
  });

  test('negative control: the same tree, not registered, survives the SIGKILL', async () => {
    const host = await startHost({ tree: ['--members', '3'], watchdog: { group: false } });
    const pids = Object.values(host.pids).flat();
    await host.kill();
    // Nothing registered: the watchdog exits at once, killing nothing.
    await waitGone([host.json('watchdog') as number], 5000);
    assert.deepEqual(await survivors(pids, 2000), pids);
    killPids(pids);
    await waitGone(pids);
  });

  test('a group registered on the instruction before a SIGKILL is covered', async () => {
    const host = await startHost({
      tree: ['--members', '3'],
      watchdog: { group: 'ready' },
      dieWhenReady: true,
    });
    await host.exited;
    const pids = Object.values(host.pids).flat();
    await waitGone(pids, 2000);
  });

  test('negative control: the same without the registration leaves the group running', async () => {
    const host = await startHost({
      tree: ['--members', '3'],
      watchdog: { group: false },
      dieWhenReady: true,
    });
    await host.exited;
    const pids = Object.values(host.pids).flat();
    assert.deepEqual(await survivors(pids, 2000), pids);
    killPids(pids);
    await waitGone(pids);
  });

  test('processes that ignore the stop signal are SIGKILLed after the grace period', async () => {
    const host = await startHost({
      tree: ['--ignore-sigterm', '--members', '2'],
      watchdog: { graceMs: 1000 },
    });
    const pids = Object.values(host.pids).flat();
    await host.kill();
    const killedAt = performance.now();
    await waitGone(pids, 5000);
    const tookMs = performance.now() - killedAt;
    // SIGTERM first (ignored), SIGKILL only when the grace period is over.
    assert.ok(tookMs >= 800, `gone after ${Math.round(tookMs)}ms, before the 1s grace period`);
  });

  test('a host that exits on its own does not wait for its watchdog, which then cleans up', async () => {
    const host = await startHost(
      { tree: ['--members', '2'], watchdog: {}, exitWhenReady: true },
      /^"host-ready"$/,
    );
    const pids = Object.values(host.pids).flat();
    await host.exited; // the unref'd watchdog does not keep the host's event loop alive
    await waitGone(pids, 5000); // an exit closes the pipe as surely as a SIGKILL
  });
});

describe('watchdog: life cycle', { timeout: 60_000 }, () => {
  test('runs in its own session, ignores SIGINT, and ends its grace early once groups are empty', async () => {
    const watchdog = mustStart(undefined, 20_000);
    const pid = watchdog.pid ?? -1;
    try {
      const stat = readStat(pid);
      assert.equal(stat?.sid, pid, 'leads its own session');
      assert.notEqual(stat.sid, readStat(process.pid)?.sid);
      // Once the script has set up its traps (SigIgn bit 2 is SIGINT), a Ctrl-C cannot end it.
      await waitUntil(() => (ignoredSignals(pid) & 2n) !== 0n, 'the watchdog ignores SIGINT');
      process.kill(pid, 'SIGINT');
      const tree = await startTree(['--members', '2']);
      watchdog.watchGroup(tree.pid, 'SIGTERM');
      assert.ok(isAlive(pid), 'a SIGINT does not end the watchdog');
      const closedAt = performance.now();
      watchdog.close();
      await watchdog.waitForExit();
      assert.ok(performance.now() - closedAt < 10_000, 'exited long before its 20s grace period');
      await waitGone(tree.pids, 1000);
    } finally {
      killPids([pid]);
    }
  });

  test('without a shell it is unavailable, and the isolation says so in a warning event', async () => {
    assert.throws(() => new Watchdog({ shell: '/nonexistent/sh' }), /\/nonexistent\/sh does not exist/);
    const warnings: WarningEvent[] = [];
    const isolation = await Isolation.create({
      watchdog: { shell: '/nonexistent/sh' },
      cgroup: false,
      onWarning: (warning) => warnings.push(warning),
    });
    await isolation.close();
    assert.equal(isolation.layers.watchdog, false);
    const [warning] = warnings.filter((w) => w.code === 'WATCHDOG_UNAVAILABLE');
    assert.match(warning?.message ?? '', /cannot start the watchdog \(\/nonexistent\/sh does not exist\)/);
  });

  test('unregistered groups are left alone when Corral closes the pipe; registered ones are stopped', async () => {
    const watchdog = mustStart();
    const left = await startTree(['--members', '1']);
    const stopped = await startTree(['--members', '1']);
    try {
      watchdog.watchGroup(left.pid, 'SIGTERM');
      watchdog.watchGroup(stopped.pid, 'SIGTERM');
      watchdog.unwatchGroup(left.pid);
      watchdog.close();
      await watchdog.waitForExit();
      await waitGone(stopped.pids, 3000);
      assert.deepEqual(alive(left.pids), left.pids, 'the script read the unregistration');
    } finally {
      killPids([...left.pids, ...stopped.pids]);
      await waitGone([...left.pids, ...stopped.pids]);
    }
  });

  test('with nothing registered, closing kills the watchdog before it reads on: unregistered groups and the end-of-run directory are left', async () => {
    const watchdog = mustStart();
    const pid = watchdog.pid ?? -1;
    const tree = await startTree(['--members', '1']);
    // A watchdog that read to the end of its input would rmdir this; killed first, it cannot.
    const dir = mkdtempSync(join(tmpdir(), 'corral-watchdog-test-'));
    try {
      watchdog.removeAtEnd(dir);
      watchdog.watchGroup(tree.pid, 'SIGTERM');
      watchdog.unwatchGroup(tree.pid);
      watchdog.close();
      await watchdog.waitForExit();
      assert.equal(isAlive(pid), false);
      assert.ok(existsSync(dir), "the directory is the caller's to remove");
      assert.deepEqual(alive(tree.pids), tree.pids);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      killPids([...tree.pids, pid]);
      await waitGone(tree.pids);
    }
  });

  test('a killed watchdog is restarted with every registration, and says so', async () => {
    const warnings: WarningEvent[] = [];
    const watchdog = mustStart((w) => warnings.push(w));
    const tree = await startTree(['--members', '2']);
    const first = watchdog.pid ?? -1;
    try {
      watchdog.watchGroup(tree.pid, 'SIGTERM');
      process.kill(first, 'SIGKILL');
      await waitUntil(() => warnings.length > 0, 'a warning about the dead watchdog');
      assert.equal(warnings[0]?.code, 'WATCHDOG_RESTARTED');
      assert.match(warnings[0].message, /SIGKILL/);
      assert.notEqual(watchdog.pid, first);
      watchdog.close();
      await watchdog.waitForExit(); // the new watchdog knows the group: closing stops it
      await waitGone(tree.pids, 3000);
    } finally {
      killPids([...tree.pids, first, watchdog.pid ?? -1]);
    }
  });

  test('a stuck watchdog (its pipe full) is replaced, and the replay reaches the new one', async () => {
    const warnings: WarningEvent[] = [];
    const watchdog = mustStart((w) => warnings.push(w));
    const stuck = watchdog.pid ?? -1;
    const tree = await startTree(['--members', '1']);
    try {
      process.kill(stuck, 'SIGSTOP');
      watchdog.watchGroup(tree.pid, 'SIGTERM');
      // Paths that are not cgroups: harmless to "kill". ~220 bytes each: 300 fill 64 KiB.
      for (let i = 0; i < 1000 && warnings.length === 0; i++) {
        watchdog.watchCgroup(`/nonexistent/corral-test/${'x'.repeat(200)}-${i}`, 'SIGTERM');
      }
      assert.equal(warnings[0]?.code, 'WATCHDOG_RESTARTED');
      assert.match(warnings[0].message, /EAGAIN/);
      await waitGone([stuck], 2000);
      watchdog.close();
      await watchdog.waitForExit();
      await waitGone(tree.pids, 3000);
    } finally {
      killPids([...tree.pids, stuck, watchdog.pid ?? -1]);
    }
  });

  test('a stopped watchdog (SIGSTOP) is noticed and replaced, and the replay reaches the new one', async () => {
    const warnings: WarningEvent[] = [];
    const watchdog = mustStart((w) => warnings.push(w));
    const stopped = watchdog.pid ?? -1;
    const tree = await startTree(['--members', '1']);
    try {
      watchdog.watchGroup(tree.pid, 'SIGTERM');
      process.kill(stopped, 'SIGSTOP');
      // Nothing is written meanwhile: only a look at the watchdog's state can tell.
      await waitUntil(() => warnings.length > 0, 'a warning about the stopped watchdog', 10_000);
      assert.equal(warnings[0]?.code, 'WATCHDOG_RESTARTED');
      assert.match(warnings[0].message, /stopped/);
      await waitGone([stopped], 2000);
      watchdog.close();
      await watchdog.waitForExit();
      await waitGone(tree.pids, 3000);
    } finally {
      killPids([...tree.pids, stopped, watchdog.pid ?? -1]);
    }
  });

  test('a watchdog that fails six times within a minute is lost, once, with a typed error', async () => {
    const warnings: WarningEvent[] = [];
    const lost: WatchdogLostError[] = [];
    const watchdog = mustStart(
      (w) => warnings.push(w),
      1000,
      (error) => lost.push(error),
    );
    const killed: number[] = [];
    try {
      for (let kill = 1; kill <= 6; kill++) {
        const pid = watchdog.pid ?? -1;
        killed.push(pid);
        process.kill(pid, 'SIGKILL');
        await waitUntil(() => warnings.length + lost.length === kill, `failure #${kill} handled`);
      }
      assert.deepEqual(
        warnings.map((w) => w.code),
        Array(5).fill('WATCHDOG_RESTARTED'),
      );
      assert.equal(lost.length, 1);
      assert.ok(lost[0] instanceof WatchdogLostError);
      assert.equal(lost[0].code, 'WATCHDOG_LOST');
      assert.match(
        lost[0].message,
        /failed 6 times within a minute \(the last time, it was killed by SIGKILL\)/,
      );
      assert.equal(watchdog.pid, undefined, 'no watchdog runs any more');
      watchdog.close();
    } finally {
      killPids(killed);
    }
  });
});
