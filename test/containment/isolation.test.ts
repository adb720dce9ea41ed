import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { test } from 'node:test';
import type { WarningEvent } from '../../src/core/events.js';
import { runHelperCommand } from '../../src/process/helper-command.js';
import { processComponent } from '../../src/process/component.js';
import { Isolation } from '../../src/containment/isolation.js';
import { isAlive } from '../../src/containment/liveness.js';
import { captureOutput, fixture, killPids, testContext, waitGone, waitUntil } from '../helpers/process.js';

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

test(
  'killAll SIGKILLs every component and, through its cgroup, what left the group; nothing else',
  T,
  async (t) => {
    const isolation = await Isolation.create({ watchdog: false });
    if (!isolation.layers.cgroup) {
      await isolation.close();
      t.skip('no writable cgroup v2 hierarchy');
      return;
    }
    // Negative control: a process Corral did not start inside the isolation.
    const outsider = spawn(fixture('forever'), [], { detached: true, stdio: 'ignore' });
    const pids = [outsider.pid ?? 0];
    try {
      const start = (name: string, command: string) => {
        const output = captureOutput();
        const context = testContext(name);
        const run = processComponent({ name, command: [fixture(command)], isolation, output: output.target })
          .run(new AbortController().signal, context.ctx)
          .catch((error: unknown) => error);
        return { run, lines: output.lines, context };
      };
      const runs = [start('stubborn', 'ignore-sigterm'), start('daemon', 'setsid-escapee')];
      for (const { lines, context } of runs) {
        await lines.next(/^\S+ \| ready/);
        pids.push(context.pid ?? 0);
      }
      const [, escapee] = (await runs[1]?.lines.next(/escapee (\d+)/)) ?? [];
      pids.push(Number(escapee));
      isolation.killAll();
      const endings = await Promise.all(runs.map((r) => r.run));
      for (const ending of endings) assert.equal((ending as { signal?: string }).signal, 'SIGKILL');
      await waitGone(pids.slice(1), 2_000);
      assert.ok(isAlive(outsider.pid ?? 0), 'a process outside the isolation is left alone');
    } finally {
      killPids(pids);
      await isolation.close();
    }
  },
);

test(
  'in a PID namespace, the cgroup directory is named after the outer pid, as the caller says',
  T,
  async (t) => {
    // Beyond pid_max: no process of this machine can have it.
    const outerPid = 4_194_305;
    const before = process.env.CORRAL_PID_NAMESPACE;
    // What the environment says does not decide it: only the option does.
    process.env.CORRAL_PID_NAMESPACE = String(outerPid + 1);
    let plain: Isolation | undefined;
    let inner: Isolation | undefined;
    try {
      plain = await Isolation.create({ watchdog: false });
      inner = await Isolation.create({ watchdog: false, namespace: { inside: true, outerPid } });
    } finally {
      if (before === undefined) delete process.env.CORRAL_PID_NAMESPACE;
      else process.env.CORRAL_PID_NAMESPACE = before;
    }
    try {
      if (!plain.layers.cgroup) {
        t.skip('no writable cgroup v2 hierarchy');
        return;
      }
      assert.equal(basename(plain.cgroupPath ?? ''), `corral-${process.pid}`);
      assert.equal(basename(inner.cgroupPath ?? ''), `corral-${outerPid}`);
    } finally {
      await plain.close();
      await inner.close();
    }
  },
);
