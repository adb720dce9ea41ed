import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from '../../src/containment/liveness.js';
import { systemTool } from '../../src/util/system-tools.js';
import { descendants, killPids, waitUntil } from '../helpers/process.js';
import { type Corral, FIXTURES, scratch, session } from '../helpers/cli.js';

/**
 * `corral run` SIGKILLed through the CLI, at ordinary and awkward moments: whatever Corral
 * started (components, their descendants, probe and drain commands) must be gone within
 * {@link BOUND_MS}, the watchdog must then end, and the temporary work dir must be gone. Each run
 * gets its own TMPDIR, so that what Corral leaves there is seen.
 */

const T = { timeout: 60_000 };
/** Generous: the watchdog's grace is 500 ms; a busy machine adds some on top. */
const BOUND_MS = 2_000;
const componentEvent = (name: string, component: string) => (r: Record<string, unknown>) =>
  r.event === name && r.component === component;

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(gone)';
  }
}

/** Corral's watchdog among `pids`, told by its command line (set in src/containment/watchdog.ts). */
function findWatchdog(pids: readonly number[]): number | undefined {
  return pids.find((pid) => commandLine(pid).includes('corral-watchdog'));
}

/**
 * SIGKILLs `corral` and requires every process under it (but the watchdog and what the watchdog
 * runs) to be gone within {@link BOUND_MS}, then the watchdog to end, then `tmp` to be empty.
 */
async function sigkillLeavesNothing(corral: Corral, tmp: string): Promise<void> {
  const pid = corral.child.pid ?? -1;
  const all = descendants(pid);
  const watchdog = findWatchdog(all);
  const watchdogRuns = new Set(watchdog === undefined ? [] : [watchdog, ...descendants(watchdog)]);
  const tree = all.filter((p) => !watchdogRuns.has(p));
  assert.ok(tree.length > 0, 'there is something to kill');
  corral.child.kill('SIGKILL');
  try {
    await waitUntil(() => tree.every((p) => !isAlive(p)), 'every process gone', BOUND_MS).catch(
      () => undefined,
    );
    const survivors = tree.filter(isAlive).map((p) => `${p} ${commandLine(p)}`);
    assert.deepEqual(survivors, [], `still alive ${BOUND_MS}ms after the SIGKILL`);
    if (watchdog !== undefined) await waitUntil(() => !isAlive(watchdog), 'the watchdog ends');
    await waitUntil(() => readdirSync(tmp).length === 0, 'TMPDIR emptied').catch(() => undefined);
    assert.deepEqual(readdirSync(tmp), [], 'nothing left in TMPDIR');
  } finally {
    killPids([...tree, ...watchdogRuns]);
  }
}

/**
 * Runs `corral run` on the stack file `stack(dir)` returns (`dir`: a scratch dir for the test's own
 * files), with a TMPDIR of its own and `env`, hands it to `body` with that TMPDIR, and requires
 * afterwards that nothing it started is left (see `session`).
 */
async function withCorral(
  stack: (dir: string) => string,
  body: (corral: Corral, tmp: string) => Promise<void>,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const s = scratch();
  const tmp = join(s.dir, 'tmp');
  mkdirSync(tmp);
  const file = s.write('corral.yaml', stack(s.dir));
  await session(s, ['run', '-f', file], (corral) => body(corral, tmp), { env: { TMPDIR: tmp, ...env } });
}

/** A component that runs until stopped, ready at once. */
const APP = `components:
  app:
    command: [${FIXTURES}forever]
    ready: { log: "^ready" }
`;

async function waitForPidFile(path: string): Promise<void> {
  await waitUntil(
    () => {
      try {
        return readFileSync(path, 'utf8').includes(' ');
      } catch {
        return false;
      }
    },
    `${path} written`,
    15_000,
  );
}

test(
  'SIGKILL with five components, one a shell whose children ignore SIGTERM: every descendant is gone within the bound',
  T,
  async () => {
    const others = [1, 2, 3, 4].map(
      (i) => `  c${i}:\n    command: [${FIXTURES}spawn-grandchildren, "2"]\n    ready: { log: "^ready" }\n`,
    );
    const stack = `components:
  stubborn:
    command: [/bin/sh, -c, "trap '' TERM; sleep 1000 & sleep 1000 & echo ready; wait"]
    ready: { log: "^ready" }
${others.join('')}`;
    await withCorral(
      () => stack,
      async (corral, tmp) => {
        for (const name of ['stubborn', 'c1', 'c2', 'c3', 'c4']) {
          await corral.waitForRecord(componentEvent('component.ready', name), `${name} ready`);
        }
        await sigkillLeavesNothing(corral, tmp);
      },
    );
  },
);

test('SIGKILL removes the temporary work dir too (through the watchdog)', T, async () => {
  await withCorral(
    () => APP,
    async (corral, tmp) => {
      await corral.waitForRecord(componentEvent('component.ready', 'app'), 'app ready');
      assert.ok(
        readdirSync(tmp).some((name) => name.startsWith('corral-')),
        'the work dir exists while Corral runs',
      );
      await sigkillLeavesNothing(corral, tmp);
    },
  );
});

test(
  'SIGKILL during start-up, with an exec readiness probe pending: the probe and what it started are gone',
  T,
  async () => {
    let pidFile = '';
    await withCorral(
      (dir) => {
        pidFile = join(dir, 'probe-pids');
        return `components:
  app:
    command: [${FIXTURES}forever]
    ready: { exec: [${FIXTURES}probe-hang, ${pidFile}], timeout: 60s }
`;
      },
      async (corral, tmp) => {
        await waitForPidFile(pidFile);
        const probe = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
        assert.ok(probe.every(isAlive), 'the probe command and its background sleep run');
        await sigkillLeavesNothing(corral, tmp);
        assert.ok(!probe.some(isAlive));
      },
    );
  },
);

test(
  'SIGKILL during a drain, with its connections command running: the command and what it started are gone',
  T,
  async () => {
    let pidFile = '';
    await withCorral(
      (dir) => {
        pidFile = join(dir, 'count-pids');
        return `components:
  proxy:
    # Ignores its drain signal, so the drain goes on polling the connections command.
    command: [/bin/sh, -c, "trap '' USR1; echo ready; exec sleep 1000"]
    ready: { log: "^ready" }
    drain:
      signal: SIGUSR1
      connections: { exec: [${FIXTURES}probe-hang, ${pidFile}] }
      timeout: 60s
`;
      },
      async (corral, tmp) => {
        await corral.waitForRecord(componentEvent('component.ready', 'proxy'), 'proxy ready');
        corral.signal('SIGTERM');
        await corral.waitForRecord(componentEvent('component.draining', 'proxy'), 'proxy draining');
        await waitForPidFile(pidFile);
        const command = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
        await sigkillLeavesNothing(corral, tmp);
        assert.ok(!command.some(isAlive));
      },
    );
  },
);

test('SIGKILL during a restart backoff: nothing of the stack is left', T, async () => {
  await withCorral(
    () => `components:
  stubborn:
    command: [${FIXTURES}spawn-grandchildren, "2", --ignore-sigterm]
    ready: { log: "^ready" }
  flaky:
    shell: "sleep 1000 & exit 4"
    restart: { maxRestarts: 5, backoff: { base: 30s, max: 30s } }
`,
    async (corral, tmp) => {
      await corral.waitForRecord(componentEvent('component.ready', 'stubborn'), 'stubborn ready');
      await corral.waitForRecord(componentEvent('component.restarting', 'flaky'), 'flaky backing off');
      await sigkillLeavesNothing(corral, tmp);
    },
  );
});

test(
  'with PATH=/nonexistent the watchdog still starts, and five grandchildren die with Corral',
  T,
  async () => {
    const sleep = systemTool('sleep');
    assert.ok(sleep, 'coreutils sleep is installed');
    await withCorral(
      () => `components:
  tree:
    command: [/bin/sh, -c, "for i in 1 2 3 4 5; do ${sleep} 1000 & done; echo ready; wait"]
    ready: { log: "^ready" }
`,
      async (corral, tmp) => {
        await corral.waitForRecord(componentEvent('component.ready', 'tree'), 'tree ready');
        const sleeping = (): number =>
          descendants(corral.child.pid ?? -1).filter((p) => commandLine(p).startsWith(sleep)).length;
        await waitUntil(() => sleeping() === 5, 'five grandchildren sleep');
        await sigkillLeavesNothing(corral, tmp);
        const warnings = corral.records().filter((r) => /WATCHDOG/.test(String(r.code)));
        assert.deepEqual(warnings, [], 'no warning about the watchdog');
      },
      { PATH: '/nonexistent' },
    );
  },
);

test(
  'a watchdog that keeps dying is given up: Corral stops the stack gracefully, says why, and exits 1',
  T,
  async () => {
    await withCorral(
      () => APP,
      async (corral) => {
        await corral.waitForRecord(componentEvent('component.ready', 'app'), 'app ready');
        const restarts = (): number => corral.records().filter((r) => r.code === 'WATCHDOG_RESTARTED').length;
        for (let kill = 1; kill <= 6; kill++) {
          let watchdog: number | undefined;
          await waitUntil(
            () => (watchdog = findWatchdog(descendants(corral.child.pid ?? -1))) !== undefined,
            `watchdog #${kill} runs`,
          );
          process.kill(watchdog ?? -1, 'SIGKILL');
          if (kill < 6) await waitUntil(() => restarts() === kill, `restart #${kill} reported`);
        }
        const code = await Promise.race([
          corral.exited,
          new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000).unref()),
        ]);
        assert.equal(code, 1, `exit code\n${corral.stdout}`);
        const records = corral.records();
        assert.ok(
          records.some((r) => r.code === 'WATCHDOG_LOST'),
          'the loss is reported',
        );
        assert.ok(
          records.some((r) => /stopped the stack: the watchdog failed/.test(String(r.msg))),
          'the reason is given at the end',
        );
        assert.ok(records.some(componentEvent('component.stopped', 'app')), 'app was stopped gracefully');
      },
    );
  },
);
