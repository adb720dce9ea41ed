import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  detectCgroups,
  killByPids,
  parseCgroup2Mounts,
  parseOwnCgroup,
  resolveCgroupDir,
  type CgroupParent,
  type ComponentCgroup,
} from '../../src/containment/cgroup.js';
import { readStat } from '../../src/containment/liveness.js';
import { cleanUpHosts, startHost, survivors } from '../fixtures/iso-harness.js';
import { fixture, killPids, LineReader, waitGone, waitUntil } from '../helpers/process.js';

const run = promisify(execFile);
after(cleanUpHosts);

const HYBRID_MOUNTINFO = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 master:2 - cgroup2 cgroup2 rw',
].join('\n');

describe('cgroup discovery (parsing)', () => {
  test('finds the cgroup2 mount wherever it is, past optional fields and octal escapes', () => {
    assert.deepEqual(parseCgroup2Mounts(HYBRID_MOUNTINFO), [
      { root: '/', mountPoint: '/sys/fs/cgroup/unified' },
    ]);
    assert.deepEqual(parseCgroup2Mounts('41 1 0:38 /a\\040b /mnt/my\\040cg rw - cgroup2 none rw'), [
      { root: '/a b', mountPoint: '/mnt/my cg' },
    ]);
    assert.deepEqual(parseCgroup2Mounts('30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw'), []);
  });

  test('reads the unified line of /proc/self/cgroup and maps it through the mount root', () => {
    assert.equal(parseOwnCgroup('4:memory:/x\n1:cpu:/\n0::/user.slice/a.scope\n'), '/user.slice/a.scope');
    assert.equal(parseOwnCgroup('4:memory:/x\n'), undefined);
    const mounts = [{ root: '/', mountPoint: '/sys/fs/cgroup/unified' }];
    assert.equal(resolveCgroupDir(mounts, '/'), '/sys/fs/cgroup/unified');
    assert.equal(resolveCgroupDir(mounts, '/a/b'), '/sys/fs/cgroup/unified/a/b');
    const rooted = [{ root: '/lxc/c1', mountPoint: '/sys/fs/cgroup' }];
    assert.equal(resolveCgroupDir(rooted, '/lxc/c1/app'), '/sys/fs/cgroup/app');
    assert.equal(resolveCgroupDir(rooted, '/lxc/c10'), undefined);
  });

  test('no cgroup2 mount: unavailable, with a warning event for the caller to emit', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'corral-fake-proc-'));
    try {
      mkdirSync(join(proc, 'self'));
      writeFileSync(join(proc, 'self/mountinfo'), HYBRID_MOUNTINFO.split('\n').slice(0, 2).join('\n'));
      writeFileSync(join(proc, 'self/cgroup'), '0::/\n');
      const detection = await detectCgroups({ procRoot: proc, removeStale: false });
      assert.ok(!detection.available);
      assert.match(detection.reason, /no cgroup2 filesystem/);
      assert.equal(detection.warning.type, 'warning');
      assert.equal(detection.warning.code, 'CGROUP_UNAVAILABLE');
      assert.match(detection.warning.message, /setsid/);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});

describe('cgroups on this machine', { timeout: 60_000 }, () => {
  let parent: CgroupParent;
  let ownDir: string;

  before(async () => {
    const detection = await detectCgroups();
    assert.ok(detection.available, detection.available ? '' : detection.reason);
    parent = detection.parent;
    ownDir = dirname(parent.path);
  });
  after(() => parent.close());

  test('creates corral-<pid>/ below our own cgroup on the cgroup2 mount', () => {
    const mountPoint = parseCgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'))[0]?.mountPoint ?? '';
    assert.ok(parent.path.startsWith(`${mountPoint}/`), `${parent.path} is below ${mountPoint}`);
    assert.equal(parent.path.endsWith(`/corral-${process.pid}`), true);
    assert.ok(existsSync(join(parent.path, 'cgroup.procs')));
  });

  test('component cgroups get safe, distinct names', async () => {
    const first = await parent.createComponentCgroup('web/1.x');
    const second = await parent.createComponentCgroup('web/1.x');
    try {
      assert.equal(first.path, join(parent.path, 'web_1_x'));
      assert.equal(second.path, join(parent.path, 'web_1_x-2'));
    } finally {
      await first.remove();
      await second.remove();
    }
  });

  test('the program runs inside its cgroup from its first instruction, its arguments untouched', async () => {
    const cgroup = await parent.createComponentCgroup('join');
    try {
      const own = parseOwnCgroup(readFileSync('/proc/self/cgroup', 'utf8')) ?? '/';
      const [shell = '', ...rest] = cgroup.joinPrefix;
      const script = 'cat /proc/self/cgroup; printf "%s|" "$@"';
      const { stdout } = await run(shell, [
        ...rest,
        '/bin/sh',
        '-c',
        script,
        'x',
        '$HOME',
        '*',
        '"; echo no',
      ]);
      assert.match(stdout, new RegExp(`^0::${join(own, `corral-${process.pid}`, 'join')}$`, 'm'));
      assert.match(stdout, /\$HOME\|\*\|"; echo no\|$/m);
    } finally {
      await cgroup.remove();
    }
  });

  test('a failed join stops before the program runs: exit 125 and a message', async () => {
    const cgroup = await parent.createComponentCgroup('gone');
    await cgroup.remove();
    const [shell = '', ...rest] = cgroup.joinPrefix;
    const error = await run(shell, [...rest, '/bin/echo', 'program ran']).then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    assert.equal(error?.code, 125);
    assert.equal(error.stdout, '');
    assert.match(error.stderr, /corral: cannot join cgroup .*\/gone\/cgroup\.procs/);
  });

  /** Starts iso-tree in `cgroup` (own session): returns every pid by role. */
  async function treeIn(cgroup: ComponentCgroup, ...args: string[]): Promise<Record<string, number[]>> {
    const [shell = '', ...rest] = cgroup.joinPrefix;
    const child = spawn(shell, [...rest, fixture('iso-tree'), ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = new LineReader(child.stdout);
    await lines.next(/^ready \d+$/);
    child.unref();
    child.stdout.destroy();
    const roles: Record<string, number[]> = {};
    for (const role of ['member', 'escapee', 'daemon', 'ready'])
      roles[role] = lines.numbers(new RegExp(`^${role} (\\d+)$`));
    return roles;
  }

  for (const [how, kill] of [
    ['cgroup.kill', (cgroup: ComponentCgroup) => cgroup.kill()],
    ['the frozen-pids fallback of kernels before 5.14', (cgroup: ComponentCgroup) => killByPids(cgroup.path)],
  ] as const) {
    test(`${how} ends the whole tree, escapees and daemons included`, async () => {
      const cgroup = await parent.createComponentCgroup('tree');
      const roles = await treeIn(cgroup, '--ignore-sigterm', '--members', '2', '--escapee', '--daemon');
      const pids = Object.values(roles).flat();
      try {
        assert.deepEqual(cgroup.pids().sort(), [...pids].sort());
        assert.equal(cgroup.populated(), true);
        await kill(cgroup);
        await waitUntil(() => !cgroup.populated(), 'the cgroup is empty', 2000);
        await waitGone(pids, 2000);
        await cgroup.remove();
        assert.equal(existsSync(cgroup.path), false);
      } finally {
        killPids(pids);
      }
    });
  }

  test('negative control: killing the process group leaves the escapee and the daemon', async () => {
    const cgroup = await parent.createComponentCgroup('group-only');
    const roles = await treeIn(cgroup, '--members', '2', '--escapee', '--daemon');
    const escaped = [...(roles['escapee'] ?? []), ...(roles['daemon'] ?? [])];
    try {
      process.kill(-(roles['ready']?.[0] ?? -1), 'SIGKILL');
      await waitGone([...(roles['ready'] ?? []), ...(roles['member'] ?? [])], 2000);
      assert.deepEqual(await survivors(escaped, 1000), escaped);
      assert.deepEqual(cgroup.pids().sort(), [...escaped].sort(), 'the cgroup still knows them');
    } finally {
      await cgroup.kill();
      await waitGone(escaped, 2000);
      await cgroup.remove();
    }
  });

  test('signal() reaches every process; remove() fails while any is inside', async () => {
    const cgroup = await parent.createComponentCgroup('signal');
    const roles = await treeIn(cgroup, '--members', '1', '--escapee');
    const pids = Object.values(roles).flat();
    try {
      await assert.rejects(cgroup.remove(), { code: 'EBUSY' });
      assert.equal(cgroup.signal('SIGTERM'), pids.length);
      await waitUntil(() => !cgroup.populated(), 'the cgroup is empty', 2000);
      await waitGone(pids, 2000);
      await cgroup.remove();
    } finally {
      killPids(pids);
    }
  });

  test('stale corral-<pid> directories of dead Corrals are removed at start-up; live and busy ones kept', async () => {
    // A pid that certainly existed and is gone now.
    const dead = await new Promise<number>((resolve) => {
      const child = spawn('true');
      child.once('exit', () => resolve(child.pid ?? -1));
    });
    const stale = join(ownDir, `corral-${dead}`);
    const busy = join(ownDir, `corral-${dead + 100_000}`);
    const live = join(ownDir, `corral-${process.ppid}`);
    const liveExisted = existsSync(live);
    mkdirSync(join(stale, 'web'), { recursive: true });
    mkdirSync(join(busy, 'db'), { recursive: true });
    mkdirSync(live, { recursive: true });
    const sleeper = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    try {
      writeFileSync(join(busy, 'db/cgroup.procs'), String(sleeper.pid));
      const detection = await detectCgroups({ ownerPid: process.pid });
      assert.ok(detection.available);
      assert.ok(detection.removedStale.includes(stale), 'the dead Corral’s empty directory is removed');
      assert.equal(existsSync(stale), false);
      assert.equal(existsSync(join(busy, 'db')), true, 'a directory with processes inside is kept');
      assert.equal(existsSync(live), true, 'a live pid’s directory is kept');
    } finally {
      sleeper.kill('SIGKILL');
      await waitUntil(() => !readFileSync(join(busy, 'db/cgroup.procs'), 'utf8').trim(), 'sleeper gone');
      rmdirSync(join(busy, 'db'));
      rmdirSync(busy);
      if (!liveExisted) rmdirSync(live);
    }
  });

  test('a Corral that died but is not yet reaped (a zombie) is dead: its directory is stale', async () => {
    // A grandchild zombie, as in liveness.test.ts: bash has exec'd into a sleep that never reaps.
    const script = '(until grep -qx sleep /proc/$$/comm; do sleep 0.01; done) & echo $!; exec sleep 30';
    const parent = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const zombie = Number((await new LineReader(parent.stdout).next(/^(\d+)$/))[1]);
      await waitUntil(() => readStat(zombie)?.state === 'Z', 'the child of bash becomes a zombie');
      const stale = join(ownDir, `corral-${zombie}`);
      mkdirSync(stale, { recursive: true });
      const detection = await detectCgroups({ ownerPid: process.pid });
      assert.ok(detection.available);
      assert.ok(detection.removedStale.includes(stale), 'the zombie Corral’s directory is removed');
      assert.equal(existsSync(stale), false);
    } finally {
      killPids([parent.pid ?? 0]);
    }
  });

  test('a Corral that exits removes its corral-<pid>/ directory', async () => {
    const code = `
      const { detectCgroups } = await import(${JSON.stringify(new URL('../../src/containment/cgroup.ts', import.meta.url).pathname)});
      const d = await detectCgroups({ removeStale: false });
      const c = await d.parent.createComponentCgroup('x');
      console.log(d.parent.path);`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code]);
    const path = stdout.trim();
    assert.match(path, /\/corral-\d+$/);
    assert.equal(existsSync(path), false);
  });
});

describe('cgroups with the watchdog: a SIGKILLed Corral leaves nothing', { timeout: 120_000 }, () => {
  test('members, setsid escapee and daemon are all gone within 2 s, and the cgroup is removed', async () => {
    const host = await startHost({
      tree: ['--members', '2', '--escapee', '--daemon'],
      watchdog: { graceMs: 1000 },
      cgroup: true,
    });
    const pids = Object.values(host.pids).flat();
    assert.equal(pids.length, 5);
    const cgroup = host.json('cgroup') as string;
    assert.deepEqual(
      readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number).sort(),
      [...pids].sort(),
    );
    await host.kill();
    await waitGone(pids, 2000);
    await waitUntil(() => !existsSync(dirname(cgroup)), 'the watchdog removes corral-<pid>/', 5000);
  });

  test('negative control: without cgroups the watchdog ends the group but not the escapee or the daemon', async () => {
    const host = await startHost({
      tree: ['--members', '2', '--escapee', '--daemon'],
      watchdog: { graceMs: 1000 },
    });
    const escaped = [...(host.pids['escapee'] ?? []), ...(host.pids['daemon'] ?? [])];
    const grouped = [...(host.pids['member'] ?? []), ...(host.pids['ready'] ?? [])];
    assert.equal(escaped.length, 2);
    try {
      await host.kill();
      await waitGone(grouped, 2000);
      assert.deepEqual(await survivors(escaped, 2000), escaped);
    } finally {
      killPids(escaped);
      await waitGone(escaped);
    }
  });
});
