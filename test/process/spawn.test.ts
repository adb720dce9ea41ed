import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readStat } from '../../src/containment/liveness.js';
import { SpawnError, spawnChild, type SpawnOptions } from '../../src/process/spawn.js';
import { systemTool } from '../../src/util/system-tools.js';
import { copyForUser } from '../helpers/other-user.js';
import { fixture, killPids, LineReader, waitGone } from '../helpers/process.js';

const hasSetpriv = systemTool('setpriv') !== undefined;

/** Runs `argv` to completion and returns its stdout. */
async function output(options: SpawnOptions): Promise<{ stdout: string; pid: number }> {
  const child = await spawnChild(options);
  let stdout = '';
  const closed = new Promise((resolve) => child.child.stdout?.on('close', resolve));
  child.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  await Promise.all([child.exited, closed]);
  return { stdout, pid: child.pid };
}

test('arguments reach the program as given, with no shell in between', { timeout: 10_000 }, async () => {
  const tricky = ['$HOME', '; echo injected', '`id`', "it's", 'a b'];
  const { stdout } = await output({ argv: ['/usr/bin/printf', '%s\\n', ...tricky] });
  assert.deepEqual(stdout.split('\n').slice(0, -1), tricky);
});

test(
  'the environment is inherited plus overrides, and undefined removes a variable',
  { timeout: 10_000 },
  async () => {
    process.env.CORRAL_TEST_INHERITED = 'inherited';
    process.env.CORRAL_TEST_REMOVED = 'removed';
    try {
      const { stdout } = await output({
        argv: ['/usr/bin/env'],
        env: { CORRAL_TEST_ADDED: 'added', CORRAL_TEST_REMOVED: undefined },
      });
      const vars = stdout.split('\n').filter((l) => l.startsWith('CORRAL_TEST_'));
      assert.deepEqual(vars.sort(), ['CORRAL_TEST_ADDED=added', 'CORRAL_TEST_INHERITED=inherited']);
    } finally {
      delete process.env.CORRAL_TEST_INHERITED;
      delete process.env.CORRAL_TEST_REMOVED;
    }
  },
);

test(
  'the working directory is set, and a missing one fails before anything starts',
  { timeout: 10_000 },
  async () => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), 'corral-spawn-')));
    try {
      assert.equal((await output({ argv: ['/bin/pwd'], cwd: dir })).stdout, `${dir}\n`);
      const error = await spawnChild({ argv: ['/bin/pwd'], cwd: join(dir, 'missing') }).catch(
        (e: unknown) => e,
      );
      assert.ok(error instanceof SpawnError);
      assert.equal(error.code, 'BAD_CWD');
      assert.match(error.message, /working directory .*missing does not exist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('the child leads its own session and process group', { timeout: 10_000 }, async () => {
  const child = await spawnChild({ argv: [fixture('forever')] });
  try {
    const stat = readStat(child.pid);
    assert.equal(stat?.pgid, child.pid);
    assert.equal(stat.sid, child.pid);
    assert.notEqual(stat.sid, readStat(process.pid)?.sid);
  } finally {
    killPids([child.pid]);
    await child.exited;
  }
});

test("runs as another user and group, with that user's groups", { timeout: 10_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root');
    return;
  }
  const asNobody = await output({ argv: ['/usr/bin/id'], user: 'nobody' });
  assert.match(asNobody.stdout, /^uid=65534\(nobody\) gid=65534\(nogroup\) groups=65534\(nogroup\)$/m);
  const withGroup = await output({ argv: ['/usr/bin/id'], user: 'nobody', group: 'daemon' });
  assert.match(withGroup.stdout, /^uid=65534\(nobody\) gid=1\(daemon\)/m);
  const groupOnly = await output({ argv: ['/usr/bin/id'], group: 'daemon' });
  assert.match(groupOnly.stdout, /^uid=0\(root\) gid=1\(daemon\) groups=1\(daemon\)$/m);
});

test('an unknown user or group fails before anything starts', { timeout: 10_000 }, async () => {
  const user = await spawnChild({ argv: ['/bin/true'], user: 'no-such-user-corral' }).catch(
    (e: unknown) => e,
  );
  assert.ok(user instanceof SpawnError);
  assert.equal(user.code, 'UNKNOWN_USER');
  assert.match(user.message, /user `no-such-user-corral` does not exist/);
  const group = await spawnChild({ argv: ['/bin/true'], group: 'no-such-group-corral' }).catch(
    (e: unknown) => e,
  );
  assert.ok(group instanceof SpawnError);
  assert.equal(group.code, 'UNKNOWN_GROUP');
});

test(
  'a user lookup that could not run is a failure to start, not a missing user',
  { timeout: 10_000 },
  async () => {
    // Out of file descriptors, getent cannot even be started: in a process of its own that has
    // used up all but one of them (the lookup's pipes need more).
    const script = `
      import { openSync } from 'node:fs';
      import { spawnChild } from ${JSON.stringify(new URL('../../src/process/spawn.ts', import.meta.url).href)};
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
      for (const fd of held.splice(-1)) (await import('node:fs')).closeSync(fd);
      const error = await spawnChild({ argv: ['/bin/true'], user: 'root' }).catch((e) => e);
      process.stdout.write(JSON.stringify({ code: error?.code, name: error?.constructor?.name, message: error?.message }));
    `;
    const child = spawn(
      'prlimit',
      ['--nofile=256:256', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
    await new Promise((resolve) => child.once('close', resolve));
    const error = JSON.parse(out) as { code: string; name: string; message: string };
    assert.equal(error.name, 'SpawnError');
    assert.equal(error.code, 'SPAWN_FAILED');
    assert.match(error.message, /could not look up user `root`: .*(too many open files|EMFILE)/);
  },
);

test('a program that cannot be executed is a SpawnError, not a crash', { timeout: 10_000 }, async () => {
  const error = await spawnChild({ argv: ['/nonexistent/program'], parentDeathSignal: false }).catch(
    (e: unknown) => e,
  );
  assert.ok(error instanceof SpawnError);
  assert.equal(error.code, 'SPAWN_FAILED');
  assert.match(error.message, /could not start \/nonexistent\/program: .*ENOENT/);
});

test('a command prefix runs first and execs the rest, keeping the pid', { timeout: 10_000 }, async () => {
  const child = await spawnChild({
    argv: [fixture('forever')],
    prefix: ['/usr/bin/env', 'CORRAL_PREFIXED=1'],
  });
  try {
    const lines = new LineReader(child.child.stdout ?? process.stdin);
    const [, pid] = await lines.next(/^ready (\d+)/);
    assert.equal(Number(pid), child.pid);
    const environ = await readFile(`/proc/${child.pid}/environ`, 'utf8');
    assert.ok(environ.split('\0').includes('CORRAL_PREFIXED=1'));
    assert.equal(child.argv[0], '/usr/bin/env');
  } finally {
    killPids([child.pid]);
    await child.exited;
  }
});

/**
 * Starts the host fixture with `options` for its one child, waits until the child is ready,
 * SIGKILLs the host, and reports whether the child outlived it (killing it afterwards if so).
 */
async function childOutlivesHost(options: SpawnOptions): Promise<boolean> {
  const host = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fixture('host.ts'),
      JSON.stringify({ mode: 'spawn', spawn: { ...options, stdout: 'inherit' } }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = new LineReader(host.stdout);
  let pid = 0;
  try {
    pid = Number((await lines.next(/^\{"spawned":(\d+)/))[1]);
    await lines.next(/^ready /);
    host.kill('SIGKILL');
    // Give the kernel's parent-death signal time to land; 2 s is the promise's bound.
    const died = await waitGone([pid], 2_000).then(
      () => true,
      () => false,
    );
    return !died;
  } finally {
    killPids([host.pid ?? 0, pid]);
    if (pid) await waitGone([pid]);
  }
}

test(
  'the child dies with its parent (parent-death signal); without it, it survives',
  { timeout: 20_000 },
  async (t) => {
    if (!hasSetpriv) {
      t.skip('setpriv is not installed');
      return;
    }
    assert.equal(await childOutlivesHost({ argv: [fixture('forever')] }), false);
    // Negative control: the same child without the layer is left behind.
    assert.equal(await childOutlivesHost({ argv: [fixture('forever')], parentDeathSignal: false }), true);
  },
);

test(
  'the parent-death signal survives the switch to another user, because it is set after it',
  { timeout: 20_000 },
  async (t) => {
    if (!hasSetpriv || process.getuid?.() !== 0) {
      t.skip('needs setpriv and root');
      return;
    }
    // nobody runs the fixture, from where nobody can reach it, wherever the checkout lies.
    const copy = copyForUser('nobody', ['test/fixtures/forever']);
    t.after(copy.cleanup);
    const forever = { argv: [copy.path('test/fixtures/forever')], cwd: copy.dir, user: 'nobody' };
    assert.equal(await childOutlivesHost(forever), false);
    // Negative control: set first and then switch users, and the kernel clears it.
    const setpriv = systemTool('setpriv') ?? '';
    assert.equal(
      await childOutlivesHost({
        ...forever,
        parentDeathSignal: false,
        prefix: [setpriv, '--pdeathsig', 'KILL', '--'],
      }),
      true,
    );
  },
);
