import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkNamespaceSupport } from '../../src/containment/namespace.js';
import { waitUntil } from '../helpers/process.js';
import { assertNothingLeft, FIXTURES, scratch, startCorral } from '../helpers/cli.js';

/**
 * Black-box: a `workDir` that cannot be used fails before anything starts with exit 2, naming the
 * YAML path; two runs never share one, however the first ended.
 */

const T = { timeout: 60_000 };
const ready = (component: string) => (r: Record<string, unknown>) =>
  r.event === 'component.ready' && r.component === component;

/**
 * Runs corral to its exit, which a run that is refused reaches at once; one that is not would run
 * on, so it is bounded, and killed (with what it started) after the test whatever happened.
 */
async function runBounded(t: TestContext, args: string[]): Promise<{ code: number | null; output: string }> {
  const corral = startCorral(args);
  t.after(async () => {
    corral.child.kill('SIGKILL');
    await assertNothingLeft(corral);
  });
  await waitUntil(
    () => corral.child.exitCode !== null || corral.child.signalCode !== null,
    `corral ${args.join(' ')} to exit`,
    20_000,
  );
  return { code: await corral.exited, output: corral.stdout + corral.stderr };
}

/** A stack with a `witness` that would leave `marker` behind if anything started. */
function witnessStack(workDir: string, marker: string): string {
  return `workDir: ${JSON.stringify(workDir)}
components:
  witness:
    command: [touch, ${JSON.stringify(marker)}]
    oneShot: true
  app:
    command: [${FIXTURES}forever]
    dependsOn: [witness]
`;
}

/** A run with `workDir` exits 2 at once, naming workDir, the path and `problem`, and starts nothing. */
async function assertRefused(
  t: TestContext,
  s: ReturnType<typeof scratch>,
  workDir: string,
  problem: RegExp,
): Promise<void> {
  const marker = join(s.dir, 'started');
  const file = s.write('corral.yaml', witnessStack(workDir, marker));
  const { code, output } = await runBounded(t, ['run', '-f', file]);
  assert.equal(code, 2, output);
  assert.ok(output.includes(`workDir: cannot use ${workDir}: `), `names workDir and the path:\n${output}`);
  assert.match(output, problem);
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  assert.equal(existsSync(marker), false, 'nothing may start');
}

/**
 * A directory nothing can be created in: a read-only tmpfs when we may mount one (root), otherwise
 * a directory without write permission (which binds only a user other than root). Unmounted and
 * removed after the test.
 */
function readOnlyDir(t: TestContext): string {
  const s = scratch();
  const dir = join(s.dir, 'ro');
  mkdirSync(dir);
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o555);
    t.after(s.cleanup);
    return dir;
  }
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'corral-test-ro', dir], {
    encoding: 'utf8',
  });
  t.after(() => {
    if (mount.status === 0) spawnSync('umount', [dir]);
    s.cleanup();
  });
  // As root, this test is not to pass without its read-only mount.
  if (mount.status !== 0) throw new Error(`cannot mount a read-only tmpfs as root: ${mount.stderr.trim()}`);
  return dir;
}

test('workDir on a read-only mount: exit 2 naming workDir, nothing started', T, async (t) => {
  const s = scratch();
  t.after(s.cleanup);
  const dir = readOnlyDir(t);
  for (const workDir of [join(dir, 'run'), dir]) {
    // As root the directory is a read-only mount; for anyone else, one without write permission.
    await assertRefused(
      t,
      s,
      workDir,
      process.getuid?.() === 0 ? /read-only file system/ : /permission denied/,
    );
  }
});

test('workDir pointing at a file: exit 2 naming workDir, nothing started', T, async (t) => {
  const s = scratch();
  t.after(s.cleanup);
  const notADir = s.write('a-file', 'x');
  await assertRefused(t, s, notADir, /it is not a directory/);
  await assertRefused(t, s, join(notADir, 'run'), /a part of the path is not a directory/);
});

test(
  'two runs with the same workDir: the second is refused naming the first; the lock dies with its holder, even by SIGKILL',
  T,
  async (t) => {
    const s = scratch();
    t.after(s.cleanup);
    const workDir = join(s.dir, 'run');
    const first = startCorral(['run', '-f', s.write('first.yaml', witnessStack(workDir, join(s.dir, 'a')))]);
    t.after(() => first.child.kill('SIGKILL'));
    await first.waitForRecord(ready('app'), 'the first run is up');

    const marker = join(s.dir, 'b');
    const second = await runBounded(t, ['run', '-f', s.write('second.yaml', witnessStack(workDir, marker))]);
    const { output } = second;
    assert.equal(second.code, 2, output);
    assert.match(output, /workDir/);
    assert.ok(output.includes(workDir), `names the directory:\n${output}`);
    assert.ok(output.includes(`pid ${first.child.pid}`), `names the holder:\n${output}`);
    assert.equal(existsSync(marker), false, 'the second run started nothing');

    // A holder killed outright must not leave a stale lock behind.
    first.child.kill('SIGKILL');
    await assertNothingLeft(first);
    const third = startCorral(['run', '-f', s.write('third.yaml', witnessStack(workDir, join(s.dir, 'c')))]);
    t.after(() => third.child.kill('SIGKILL'));
    await third.waitForRecord(ready('app'), 'a run after a SIGKILLed holder');
    third.signal('SIGTERM');
    assert.equal(await third.exited, 0, third.stdout + third.stderr);
    await assertNothingLeft(third);

    // And one that stopped cleanly has let go too.
    const fourth = startCorral([
      'run',
      '-f',
      s.write('fourth.yaml', witnessStack(workDir, join(s.dir, 'd'))),
    ]);
    t.after(() => fourth.child.kill('SIGKILL'));
    await fourth.waitForRecord(ready('app'), 'a run after a clean stop');
    fourth.signal('SIGTERM');
    assert.equal(await fourth.exited, 0, fourth.stdout + fourth.stderr);
    await assertNothingLeft(fourth);
  },
);

test('a holder in its own PID namespace is named by the pid the host sees', T, async (t) => {
  const support = await checkNamespaceSupport();
  if (!support.available) {
    t.skip(support.reason);
    return;
  }
  const s = scratch();
  t.after(s.cleanup);
  const workDir = join(s.dir, 'run');
  const isolated = `isolation: { pidNamespace: true }\n${witnessStack(workDir, join(s.dir, 'a'))}`;
  const first = startCorral(['run', '-f', s.write('first.yaml', isolated)]);
  // The pids its records name are the namespace's own: only the outer Corral is ours to kill, and
  // everything inside dies with it.
  t.after(async () => {
    first.child.kill('SIGKILL');
    await first.exited;
  });
  await first.waitForRecord(ready('app'), 'the isolated run is up');
  const second = await runBounded(t, [
    'run',
    '-f',
    s.write('second.yaml', witnessStack(workDir, join(s.dir, 'b'))),
  ]);
  assert.equal(second.code, 2, second.output);
  assert.ok(second.output.includes(`pid ${first.child.pid}`), `names the outer pid:\n${second.output}`);
  first.signal('SIGTERM');
  assert.equal(await first.exited, 0, first.stdout + first.stderr);
});
