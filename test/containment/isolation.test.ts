import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import type { WarningEvent } from '../../src/containment/cgroup.js';
import { runHelperCommand } from '../../src/process/helper-command.js';
import { Isolation } from '../../src/containment/isolation.js';
import { isAlive } from '../../src/containment/liveness.js';
import { killPids, waitGone, waitUntil } from '../helpers/process.js';

const T = { timeout: 60_000 };
const never = new AbortController().signal;

test(
  'a lost watchdog aborts `lost` with a WatchdogLostError, is reported once, and nothing more is contained',
  T,
  async () => {
    const warnings: WarningEvent[] = [];
    const isolation = await Isolation.create({
      cgroup: false,
      parentDeathSignal: false,
      onWarning: (w) => warnings.push(w),
    });
    const killed: number[] = [];
    try {
      assert.equal(isolation.lost.aborted, false);
      for (let kill = 1; kill <= 6; kill++) {
        const pid = isolation.watchdogPid ?? -1;
        killed.push(pid);
        process.kill(pid, 'SIGKILL');
        await waitUntil(() => warnings.length === kill, `failure #${kill} reported`);
      }
      assert.equal(isolation.lost.aborted, true);
      const reason = isolation.lost.reason as { code?: string; message?: string };
      assert.equal(reason.code, 'WATCHDOG_LOST');
      assert.deepEqual(
        warnings.map((w) => w.code),
        [...Array<string>(5).fill('WATCHDOG_RESTARTED'), 'WATCHDOG_LOST'],
      );
      assert.equal(warnings[5]?.message, reason.message);
      await assert.rejects(
        isolation.contain('app', 'SIGTERM', () => undefined),
        (error: { code?: string }) => error.code === 'WATCHDOG_LOST',
      );
    } finally {
      killPids(killed);
      await isolation.close();
    }
  },
);

test(
  "a component's helper command runs in the component's cgroup, its group watched until it has been killed",
  T,
  async (t) => {
    const isolation = await Isolation.create();
    if (!isolation.layers.cgroup) {
      await isolation.close();
      t.skip('no writable cgroup v2 hierarchy');
      return;
    }
    const containment = await isolation.contain('helped', 'SIGTERM', () => undefined);
    const tracked: string[] = [];
    let left = -1;
    try {
      const result = await runHelperCommand(
        ['/bin/sh', '-c', 'cat /proc/self/cgroup; sleep 1000 & echo "left $!"'],
        {
          signal: never,
          stdoutLimit: 4096,
          containment: {
            ...containment.commands,
            trackGroup: (pgid) => {
              tracked.push(`+${pgid}`);
              const untrack = containment.commands.trackGroup?.(pgid);
              return () => {
                tracked.push(`-${pgid}`);
                untrack?.();
              };
            },
          },
        },
      );
      assert.equal(result.exitCode, 0);
      const cgroup = /^0::(.*)$/m.exec(result.stdout)?.[1] ?? '';
      assert.ok(
        cgroup.endsWith(`/${basename(isolation.cgroupPath ?? '')}/helped`),
        `in its cgroup: ${cgroup}`,
      );
      left = Number(/^left (\d+)$/m.exec(result.stdout)?.[1]);
      // What the command left running in its group is swept away once it has exited.
      await waitGone([left], 2000);
      assert.equal(tracked.length, 2);
      assert.equal(tracked[1], tracked[0]?.replace('+', '-'), 'untracked after the kill');
    } finally {
      if (left > 0 && isAlive(left)) killPids([left]);
      await containment.release();
      await isolation.close();
    }
  },
);
