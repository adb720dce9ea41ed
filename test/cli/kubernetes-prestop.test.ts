import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { isAlive, listProcesses } from '../../src/containment/liveness.js';
import { freePort, get, scratch, startCorral } from '../helpers/cli.js';
import { waitUntil } from '../helpers/process.js';

// The Kubernetes example's preStop hook, `/bin/sh -c "kill -USR2 1"`, run the way the kubelet runs
// it: a process entering the container's PID namespace, where Corral is PID 1. Then SIGTERM to PID
// 1, as the kubelet sends it when the hook has finished. Real processes; needs root for unshare.

const run = promisify(execFile);

/** Runs `command` inside the PID namespace of host pid `pid` (as `kubectl exec`/a preStop hook would). */
async function inNamespaceOf(pid: number, command: string): Promise<void> {
  await run('nsenter', ['--target', String(pid), '--pid', '--mount', '/bin/sh', '-c', command]);
}

test(
  'the preStop hook kill -USR2 1 drains Corral as PID 1 without stopping it; SIGTERM then stops it',
  { timeout: 60_000 },
  async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('unshare --pid needs root');
      return;
    }
    const s = scratch();
    const port = await freePort();
    const file = s.write(
      'corral.yaml',
      `shutdown: { timeout: 20s }
readiness: { address: 127.0.0.1:${port} }
components:
  proxy:
    # Ignores its drain signal (an ignored signal stays ignored across exec).
    command: [sh, -c, "trap '' USR1; exec sleep 1000"]
    drain: { signal: SIGUSR1, min: 1s, timeout: 10s }
    stopTimeout: 2s
  app:
    command: [sleep, "1000"]
    dependsOn: [proxy]
    stopTimeout: 2s
`,
    );
    const corral = startCorral(['run', '-f', file], {
      prefix: ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'],
    });
    try {
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${port}/ready`)).status === 200,
        `/ready 200\n${corral.stdout}\n${corral.stderr}`,
        20_000,
      );
      // The namespace's PID 1, as a host pid: unshare's child.
      const pid1 = listProcesses().find((p) => p.ppid === corral.child.pid)?.pid;
      assert.ok(pid1 !== undefined, 'PID 1 of the namespace');

      await inNamespaceOf(pid1, 'kill -USR2 1');
      await corral.waitForRecord(
        (r) => r.event === 'component.draining' && r.component === 'proxy',
        'proxy draining',
      );
      assert.equal((await get(`http://127.0.0.1:${port}/ready`)).status, 503);
      await corral.waitForRecord(
        (r) => r.event === 'component.drained' && r.component === 'proxy',
        'proxy drained',
      );
      // A drain only: nothing stopped, and Corral is still there.
      assert.ok(isAlive(pid1));
      assert.equal(corral.records().filter((r) => r.event === 'component.stopping').length, 0);
      assert.equal(corral.spawnedPids().filter((pid) => isAlive(pid)).length, 2);

      await inNamespaceOf(pid1, 'kill -TERM 1');
      assert.equal(await corral.exited, 0, corral.stderr);
      const stops = corral
        .records()
        .filter((r) => r.event === 'component.stopping')
        .map((r) => r.component);
      assert.deepEqual(stops, ['app', 'proxy']);
      // The drain is not run a second time.
      assert.equal(corral.records().filter((r) => r.event === 'component.draining').length, 1);
    } finally {
      if (corral.child.exitCode === null) corral.child.kill('SIGKILL');
      await corral.exited;
      s.cleanup();
    }
  },
);
