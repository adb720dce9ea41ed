import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { listProcesses, readStat } from '../../src/containment/liveness.js';
import { FIXTURES, scratch, startCorral, type Corral } from '../helpers/cli.js';
import {
  corralUnder,
  membersOf,
  pid1Of,
  pid1Unavailable,
  pidNamespace,
  startAsPid1,
} from '../helpers/pid1.js';
import { killPids, waitUntil } from '../helpers/process.js';

/** `corral run` as PID 1 of a new PID namespace, as a container's entrypoint (see helpers/pid1.ts). */

let unavailable: string | false = false;
before(async () => {
  unavailable = await pid1Unavailable();
});

/**
 * Watches PID 1's children every 20 ms for `ms`: how many orphans (`sleep`s) it adopted, the most
 * zombies it had at once, and the longest any one of them stayed a zombie.
 */
async function watchZombies(pid1: number, ms: number) {
  const adopted = new Set<number>();
  const zombieSince = new Map<number, number>();
  let most = 0;
  let longestMs = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const now = performance.now();
    const children = listProcesses().filter((p) => p.ppid === pid1);
    for (const p of children) if (p.comm === 'sleep') adopted.add(p.pid);
    const zombies = children.filter((p) => p.state === 'Z').map((p) => p.pid);
    for (const pid of zombies) if (!zombieSince.has(pid)) zombieSince.set(pid, now);
    for (const [pid, since] of zombieSince) {
      if (zombies.includes(pid)) longestMs = Math.max(longestMs, now - since);
      else zombieSince.delete(pid);
    }
    most = Math.max(most, zombies.length);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { adopted: adopted.size, most, longestMs };
}

/** The components in the order of their `component.<what>` records. */
function order(corral: Corral, what: 'stopping' | 'stopped'): unknown[] {
  return corral
    .records()
    .filter((r) => r.event === `component.${what}`)
    .map((r) => r.component);
}

/** Runs `body` against corral as PID 1; afterwards nothing of its namespace may be left. */
async function pid1Session(
  stack: string,
  body: (corral: Corral, pid1: number) => Promise<void>,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const s = scratch();
  const corral = startAsPid1(['run', '--log-format', 'json', '-f', s.write('corral.yaml', stack)], { env });
  try {
    const pid1 = await pid1Of(corral);
    const ns = pidNamespace(pid1) ?? 'gone';
    await body(corral, pid1);
    await corral.exited;
    // PID 1 has exited, so the kernel has ended everything in its namespace.
    await waitUntil(() => membersOf(ns).length === 0, `left in the namespace: ${membersOf(ns).join(', ')}`);
  } finally {
    corral.child.kill('SIGKILL'); // --kill-child: unshare's death ends its PID 1, and the namespace
    killPids([corral.child.pid ?? -1]);
    s.cleanup();
  }
}

const ORPHANS_STACK = `shutdown: { timeout: 20s }
components:
  base:
    command: [${FIXTURES}forever]
  orphans:
    command: [${FIXTURES}orphan-maker]
    dependsOn: [base]
`;

describe('corral as PID 1 (a container entrypoint)', { timeout: 120_000 }, () => {
  test('runs under its init: every orphan is reaped within a second; SIGTERM to PID 1 stops the stack in order, exit 0', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    await pid1Session(ORPHANS_STACK, async (corral, pid1) => {
      await corral.waitForRecord((r) => r.event === 'component.ready' && r.component === 'orphans', 'ready');
      assert.equal(readStat(pid1)?.comm, 'sh', 'PID 1 is the init, not node');
      corralUnder(pid1);
      const seen = await watchZombies(pid1, 3000);
      assert.ok(seen.adopted >= 10, `the init adopted the orphans (${seen.adopted})`);
      assert.ok(seen.longestMs < 1000, `a zombie lingered under PID 1 for ${Math.round(seen.longestMs)} ms`);

      process.kill(pid1, 'SIGTERM'); // as `docker stop` does
      assert.equal(await corral.exited, 0, corral.stderr);
      assert.deepEqual(order(corral, 'stopping'), ['orphans', 'base']);
      assert.deepEqual(order(corral, 'stopped'), ['orphans', 'base']);
      assert.ok(
        corral.records().some((r) => r.component === 'orphans' && /^stopping \d+$/.test(String(r.line))),
        'orphan-maker got SIGTERM and stopped on its own',
      );
      assert.equal(
        corral.records().filter((r) => String(r.msg).startsWith('SIGTERM: shutting down')).length,
        1,
        'Corral got SIGTERM once',
      );
    });
  });

  test("the exit status is Corral's: 1 when a component fails, 128+n when a signal kills Corral", async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    await pid1Session(
      `components:
  base:
    command: [${FIXTURES}forever]
  failing:
    command: [${FIXTURES}exit-with-code, "3"]
    dependsOn: [base]
`,
      async (corral) => {
        assert.equal(await corral.exited, 1, corral.stdout);
        assert.ok(corral.records().some((r) => r.event === 'component.failed' && r.component === 'failing'));
      },
    );
    await pid1Session(ORPHANS_STACK, async (corral, pid1) => {
      await corral.waitForRecord((r) => r.event === 'component.ready' && r.component === 'orphans', 'ready');
      process.kill(corralUnder(pid1), 'SIGKILL');
      assert.equal(await corral.exited, 128 + 9);
    });
  });

  test('with isolation.pidNamespace set, it runs in the namespace it has and says so', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    await pid1Session(`isolation: { pidNamespace: true }\n${ORPHANS_STACK}`, async (corral, pid1) => {
      await corral.waitForRecord((r) => r.event === 'component.ready' && r.component === 'orphans', 'ready');
      assert.ok(
        corral.records().some((r) => String(r.msg).startsWith('isolation.pidNamespace: not needed')),
        corral.stdout,
      );
      const corralPid = corralUnder(pid1);
      const corralChildren = listProcesses().filter((p) => p.ppid === corralPid);
      assert.ok(corralChildren.length > 0);
      assert.ok(
        corralChildren.every((p) => pidNamespace(p.pid) === pidNamespace(pid1)),
        'no nested PID namespace',
      );
      process.kill(pid1, 'SIGTERM');
      assert.equal(await corral.exited, 0, corral.stderr);
    });
  });

  test('negative control: with CORRAL_NO_INIT=1 node is PID 1, says so, and the zombies pile up', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    await pid1Session(
      ORPHANS_STACK,
      async (corral, pid1) => {
        await corral.waitForRecord((r) => r.code === 'PID1_WITHOUT_INIT', 'the warning');
        assert.equal(readStat(pid1)?.comm, 'node');
        await corral.waitForRecord(
          (r) => r.event === 'component.ready' && r.component === 'orphans',
          'ready',
        );
        const seen = await watchZombies(pid1, 3000);
        assert.ok(seen.most >= 10, `zombies under PID 1 at once: ${seen.most}`);
        assert.ok(seen.longestMs >= 1000, `the longest-lived zombie: ${Math.round(seen.longestMs)} ms`);
        process.kill(pid1, 'SIGTERM'); // node handles SIGTERM itself
        assert.equal(await corral.exited, 0, corral.stderr);
      },
      { CORRAL_NO_INIT: '1' },
    );
  });

  test('isolation mode uses the same init: each signal reaches Corral once, SIGUSR2 drains without ending the namespace', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const s = scratch();
    const file = s.write('corral.yaml', `isolation: { pidNamespace: true }\n${ORPHANS_STACK}`);
    // Not PID 1 here: the outer Corral starts the namespace, its init and the inner Corral.
    const corral = startCorral(['run', '--log-format', 'json', '-f', file]);
    try {
      await corral.waitForRecord((r) => r.event === 'component.ready' && r.component === 'orphans', 'ready');
      corral.signal('SIGUSR2');
      await corral.waitForRecord((r) => String(r.msg).startsWith('SIGUSR2: draining'), 'the drain');
      corral.signal('SIGTERM');
      assert.equal(await corral.exited, 0, corral.stderr);
      const said = (prefix: string) =>
        corral.records().filter((r) => String(r.msg).startsWith(prefix)).length;
      assert.deepEqual([said('SIGUSR2: draining'), said('SIGTERM: shutting down')], [1, 1]);
      assert.deepEqual(order(corral, 'stopped'), ['orphans', 'base']);
    } finally {
      corral.child.kill('SIGKILL'); // everything inside dies with the outer Corral
      s.cleanup();
    }
  });
});
