import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { INIT_SCRIPT } from '../../src/containment/init.js';
import { listProcesses, readStat } from '../../src/containment/liveness.js';
import {
  checkNamespaceSupport,
  insideNamespace,
  namespaceCommand,
  NAMESPACE_ENV,
} from '../../src/containment/namespace.js';
import { cleanUpHosts, startHost, survivors, alive, type Host } from '../fixtures/iso-harness.js';
import { copyForUser, userIds } from '../helpers/other-user.js';
import { fixture, killPids, LineReader, waitGone, waitUntil } from '../helpers/process.js';

after(cleanUpHosts);

let unavailable: string | false = false;
before(async () => {
  const support = await checkNamespaceSupport();
  unavailable = support.available ? false : support.reason;
});

/** The PID namespace a process is in, as the inode link of /proc/<pid>/ns/pid. */
function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Every live process (host pids) in namespace `ns`. */
function membersOf(ns: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pidNamespace(pid) === ns && alive([pid]).length === 1);
}

/** The chain's init (PID 1 inside, as a host pid): the child of unshare, the chain's first process. */
async function initOf(host: Host): Promise<number> {
  const chain = host.json('chain') as number;
  let init: number | undefined;
  await waitUntil(() => {
    init = listProcesses().find((p) => p.ppid === chain)?.pid;
    return init !== undefined;
  }, 'the namespace init');
  return init ?? -1;
}

describe('PID namespace isolation', { timeout: 120_000 }, () => {
  test('is available here, as root without a user namespace', async (t) => {
    const support = await checkNamespaceSupport();
    if (process.getuid?.() !== 0) {
      t.skip('not root');
      return;
    }
    assert.deepEqual(support, { available: true, userNamespace: false });
  });

  test('the command chains setpriv, unshare, the init and the inner argv, and marks the inner env', () => {
    const { argv, env } = namespaceCommand(['/usr/bin/node', 'corral.js', 'run'], {}, 4242);
    const text = argv.join(' ');
    assert.match(
      text,
      /setpriv --pdeathsig KILL -- \S*unshare --fork --pid --mount-proc --kill-child -- \/bin\/sh \S+\/bin\/corral-init /,
    );
    assert.deepEqual(argv.slice(-4), [INIT_SCRIPT, '/usr/bin/node', 'corral.js', 'run']);
    assert.deepEqual(env, { [NAMESPACE_ENV]: '4242' });
    assert.match(namespaceCommand([], { userNamespace: true }).argv.join(' '), /--user --map-current-user/);
    assert.deepEqual(insideNamespace({ [NAMESPACE_ENV]: '4242' }), { inside: true, outerPid: 4242 });
    assert.deepEqual(insideNamespace({}), { inside: false });
  });

  test('the inner process is PID 2, knows it is inside, and gets each forwarded signal once', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const host = await startHost({ tree: [], namespace: 'probe' });
    assert.equal(host.json('pid'), 2);
    assert.equal(host.json('ppid'), 1);
    assert.equal(host.json('inside'), true);
    assert.equal(host.json('outerPid'), host.pid);
    const init = await initOf(host);
    const [, pid] = (await host.lines.next(/^ready (\d+)$/)).map(Number);
    assert.equal(pid, 2);
    host.process.kill('SIGTERM');
    await host.lines.next(/^terms \d+$/);
    await host.exited;
    assert.deepEqual(host.lines.numbers(/^terms (\d+)$/), [1], 'SIGTERM forwarded exactly once');
    assert.equal(host.process.exitCode, 7, "the outer process exits with the inner one's status");
    await waitGone([init], 2000);
  });

  test('a SIGKILL of the outer process ends everything inside: members, setsid escapee, daemon', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const host = await startHost({ tree: ['--members', '2', '--escapee', '--daemon'], namespace: true });
    const init = await initOf(host);
    const ns = pidNamespace(init) ?? 'none';
    assert.notEqual(ns, pidNamespace(process.pid));
    const inside = membersOf(ns);
    // init, the tree, two members, the escapee, the daemon (in-namespace pids as printed).
    assert.ok(inside.length >= 6, `expected at least 6 processes in the namespace, found ${inside.length}`);
    assert.deepEqual(
      ['member', 'escapee', 'daemon'].map((role) => host.pids[role]?.length),
      [2, 1, 1],
      'the tree reported every process',
    );
    await host.kill();
    await waitGone(inside, 2000);
    assert.deepEqual(membersOf(ns), []);
  });

  test('as an unprivileged user, through a user namespace, the chain holds too', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to switch to nobody');
      return;
    }
    // nobody runs the tree, from where nobody can reach it, wherever the checkout lies.
    const copy = copyForUser('nobody', ['test/fixtures/iso-tree', 'bin/corral-init']);
    t.after(copy.cleanup);
    const tree = [copy.path('test/fixtures/iso-tree'), '--members', '1', '--escapee', '--daemon'];
    const command = namespaceCommand(tree, { userNamespace: true }).argv;
    // The init too is read by nobody: the copy, not the checkout's (which may be closed to it).
    assert.ok(command.includes(INIT_SCRIPT), 'the chain runs the init script');
    const argv = command.map((arg) => (arg === INIT_SCRIPT ? copy.path('bin/corral-init') : arg));
    const { uid, gid } = userIds('nobody');
    const drop = [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
    // setpriv, setpriv and unshare all exec: the pid we spawn is unshare's.
    const child = spawn('setpriv', [...drop, ...argv], {
      cwd: copy.dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const lines = new LineReader(child.stdout);
    const chain = child.pid ?? -1;
    try {
      await lines.next(/^ready 2$/);
      const init = listProcesses().find((p) => p.ppid === chain)?.pid ?? -1;
      const ns = pidNamespace(init) ?? 'none';
      const inside = membersOf(ns);
      assert.ok(inside.length >= 5, `expected at least 5 processes in the namespace, found ${inside.length}`);
      assert.ok(
        inside.every((pid) => readFileSync(`/proc/${pid}/status`, 'utf8').includes(`\nUid:\t${uid}\t`)),
        'everything inside runs as nobody',
      );
      child.kill('SIGKILL');
      await waitGone(inside, 2000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  test('negative control: without the namespace the escapee and the daemon survive', async () => {
    const host = await startHost({ tree: ['--members', '2', '--escapee', '--daemon'] });
    const pids = Object.values(host.pids).flat();
    const escaped = [...(host.pids['escapee'] ?? []), ...(host.pids['daemon'] ?? [])];
    assert.equal(escaped.length, 2);
    try {
      await host.kill();
      // The tree was spawned in its own session: a SIGKILL of the host reaches none of it.
      assert.deepEqual(await survivors(escaped, 2000), escaped);
    } finally {
      killPids(pids);
      await waitGone(pids);
    }
  });

  test('orphans are reaped by the init: no zombie lingers under PID 1', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const host = await startHost({ tree: ['--orphans', '3'], namespace: true });
    const init = await initOf(host);
    const orphans = () =>
      listProcesses().filter((p) => p.ppid === init && p.comm === 'sleep' && p.pid !== host.pid);
    // The tree (exec'd into `sleep 1000`) is a child of init too; the orphans were adopted.
    assert.ok(orphans().length >= 3, 'the orphans were adopted by the init');
    await waitUntil(() => orphans().length === 1, 'only the tree left under init, zombies reaped', 5000);
    assert.equal(
      listProcesses().filter((p) => p.ppid === init && p.state === 'Z').length,
      0,
      'no zombie children of the init',
    );
    await host.kill();
    await waitGone([init], 2000);
  });

  test('negative control: with a PID 1 that does not reap, the orphans stay zombies', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    // The same namespace without the init: iso-tree is PID 1 and ends as `exec sleep`, which never waits.
    const child = spawn(
      'unshare',
      ['--fork', '--pid', '--mount-proc', '--kill-child', '--', fixture('iso-tree'), '--orphans', '3'],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines = new LineReader(child.stdout);
    try {
      await lines.next(/^ready 1$/);
      const pid1 = listProcesses().find((p) => p.ppid === child.pid)?.pid ?? -1;
      await waitUntil(
        () => listProcesses().filter((p) => p.ppid === pid1 && p.state === 'Z').length >= 3,
        'three zombie orphans under a non-reaping PID 1',
        5000,
      );
      assert.equal(readStat(pid1)?.state !== 'Z', true);
    } finally {
      child.kill('SIGKILL'); // unshare's death kills its PID 1 (--kill-child), ending the namespace
      await once(child, 'exit');
    }
  });
});
