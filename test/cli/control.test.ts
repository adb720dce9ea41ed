import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from '../../src/containment/liveness.js';
import { defaultSocketPath } from '../../src/control/socket-path.js';
import type { StatusReport } from '../../src/control/status-board.js';
import { ctl, row, status, statusWhen } from '../helpers/control.js';
import { FIXTURES, runCorral, scratch, session, startCorral } from '../helpers/cli.js';
import { cliForUser, userIds } from '../helpers/other-user.js';
import { killPids, waitUntil } from '../helpers/process.js';

const T = { timeout: 90_000 };

test(
  'status while starting, ready and stopping: state, pid, readiness; exit 0 only when ready',
  T,
  async () => {
    const s = scratch();
    const socket = join(s.dir, 'run', 'corral.sock');
    // `app` is ready once the test creates `go`; `slow` finishes stopping once it creates `release`.
    const file = s.write(
      'corral.yaml',
      `components:
  db:
    command: [${FIXTURES}forever]
  app:
    command: [sh, -c, 'while [ ! -e go ]; do sleep 0.05; done; echo ready; exec sleep infinity']
    cwd: ${s.dir}
    dependsOn: [db]
    ready: { log: "^ready" }
  slow:
    command: [sh, -c, 'trap "while [ ! -e release ]; do sleep 0.05; done; exit 0" TERM; echo up; while :; do sleep 0.05; done']
    cwd: ${s.dir}
    stopTimeout: 1m
`,
    );
    await session(s, ['run', '-f', file, '--socket', socket], async (corral) => {
      const starting = await statusWhen(socket, (r) => row(r, 'app')?.state === 'starting', 'app starting');
      assert.equal(starting.code, 3, 'not ready: exit 3');
      assert.equal(starting.report.ready, false);
      assert.equal(row(starting.report, 'db')?.state, 'ready');
      assert.ok(isAlive(row(starting.report, 'db')?.pid ?? -1), 'the pid shown is the running process');
      assert.equal(row(starting.report, 'app')?.ready, false);
      assert.equal((statSync(socket).mode & 0o777).toString(8), '600');
      assert.equal((statSync(dirname(socket)).mode & 0o777).toString(8), '700');

      writeFileSync(join(s.dir, 'go'), '');
      const ready = await statusWhen(socket, (r) => r.ready, 'all ready');
      assert.equal(ready.code, 0, 'ready: exit 0');
      const table = await ctl(socket, 'status');
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+READY\s+LAST EXIT\s+TERM$/m);
      assert.match(
        table.stdout,
        new RegExp(`^app\\s+ready\\s+${row(ready.report, 'app')?.pid}\\s+\\S+\\s+0\\s+yes\\s+-\\s+-$`, 'm'),
      );

      corral.signal('SIGTERM');
      const stopping = await statusWhen(socket, (r) => row(r, 'slow')?.state === 'stopping', 'slow stopping');
      assert.equal(stopping.code, 3);
      assert.equal(stopping.report.phase, 'stopping');
      writeFileSync(join(s.dir, 'release'), '');
      assert.equal(await corral.exited, 0, corral.stderr);
      assert.equal(existsSync(socket), false, 'the socket is removed at the end');
      const after = await ctl(socket, 'status');
      assert.equal(after.code, 3, 'no run: not ready');
      assert.match(after.stderr, /no corral run serves/);
    });
  },
);

test(
  'restart of a middle component restarts its dependents, not its dependencies; stop and start NAME',
  T,
  async () => {
    const s = scratch();
    const file = s.write(
      'corral.yaml',
      `components:
  db:
    command: [${FIXTURES}forever]
  app:
    command: [${FIXTURES}forever]
    dependsOn: [db]
  web:
    command: [${FIXTURES}forever]
    dependsOn: [app]
`,
    );
    // The default socket, found from the stack file as an operator's `corral status -f` finds it.
    const socket = defaultSocketPath(file);
    const ask = (...args: string[]) => runCorral([...args, '-f', file]);
    await session(s, ['run', '-f', file], async (corral) => {
      const before = (await statusWhen(socket, (r) => r.ready, 'ready')).report;
      const pid = (r: StatusReport, name: string) => row(r, name)?.pid ?? -1;

      const restart = await ask('restart', 'app');
      assert.equal(restart.code, 0, restart.stderr);
      const after = (await status(socket)).report as StatusReport;
      assert.equal(after.ready, true, 'restart resolves once they are ready again');
      assert.equal(pid(after, 'db'), pid(before, 'db'), 'the dependency kept running');
      for (const name of ['app', 'web']) {
        assert.notEqual(pid(after, name), pid(before, name), `${name} was restarted`);
        assert.ok(isAlive(pid(after, name)));
        assert.equal(isAlive(pid(before, name)), false, `${name}'s old process is gone`);
      }
      assert.ok(isAlive(pid(before, 'db')));
      const stopped = corral
        .records()
        .filter((r) => r.event === 'component.stopping')
        .map((r) => [r.component, r.reason]);
      assert.deepEqual(stopped, [
        ['web', 'operator'],
        ['app', 'operator'],
      ]);

      assert.equal((await ask('stop', 'web')).code, 0);
      const one = await status(socket);
      assert.equal(one.code, 3, 'a stopped component: not ready');
      assert.equal(row(one.report, 'web')?.state, 'stopped');
      assert.equal(row(one.report, 'app')?.state, 'ready');
      assert.equal((await ask('start', 'web')).code, 0);
      assert.equal((await status(socket)).code, 0);

      const unknown = await ask('restart', 'nope');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /there is no component `nope`/);

      assert.equal((await ask('stop')).code, 0, 'corral stop: the whole stack');
      assert.equal(await corral.exited, 0);
      const order = corral
        .records()
        .filter((r) => r.event === 'component.stopping' && r.reason === 'requested')
        .map((r) => r.component);
      assert.deepEqual(order, ['web', 'app', 'db'], 'a graceful stop in reverse order');
    });
  },
);

test('logs: recent lines, then follow across a restart, as the run wrote them', T, async () => {
  const s = scratch();
  const socket = join(s.dir, 'run', 'corral.sock');
  const file = s.write(
    'corral.yaml',
    `components:
  db:
    command: [sh, -c, 'echo "db $$"; exec sleep infinity']
  application:
    command: [sh, -c, 'echo "hello $$"; echo "second $$" >&2; exec sleep infinity']
    dependsOn: [db]
`,
  );
  await session(s, ['run', '-f', file, '--socket', socket, '--log-format', 'pretty'], async (corral) => {
    const first = await statusWhen(socket, (r) => r.ready, 'ready');
    const pid1 = row(first.report, 'application')?.pid;
    await waitUntil(async () => (await ctl(socket, 'logs')).stdout.includes(`second ${pid1}`), 'both lines');
    const recent = await ctl(socket, 'logs', '-n', '1');
    assert.equal(recent.code, 0);
    // One line per component, the last; names padded to the longest, as the run does.
    assert.equal(
      recent.stdout,
      `db          | db ${row(first.report, 'db')?.pid}\napplication | second ${pid1}\n`,
    );

    const follower = startCorral(['logs', 'application', '-n', '5', '-f', '--socket', socket]);
    try {
      await waitUntil(() => follower.stdout.includes(`application | hello ${pid1}\n`), 'the recent lines');
      assert.equal((await ctl(socket, 'restart', 'application')).code, 0);
      const pid2 = row((await status(socket)).report, 'application')?.pid;
      assert.notEqual(pid2, pid1);
      await waitUntil(
        () => follower.stdout.includes(`application | hello ${pid2}\n`),
        `the new run's lines; follower has:\n${follower.stdout}`,
      );
      assert.doesNotMatch(follower.stdout, /db/, 'only the component asked for');
      follower.signal('SIGINT');
      assert.equal(await follower.exited, 0);
    } finally {
      killPids([follower.child.pid ?? -1]);
    }
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0);
  });
});

test('a client that connects and never sends does not block the stop; garbage gets an error', T, async () => {
  const s = scratch();
  const socket = join(s.dir, 'run', 'corral.sock');
  const file = s.write('corral.yaml', `components:\n  app:\n    command: [${FIXTURES}forever]\n`);
  await session(s, ['run', '-f', file, '--socket', socket], async (corral) => {
    await statusWhen(socket, (r) => r.ready, 'ready');

    const rude = connect(socket);
    await once(rude, 'connect');
    rude.setEncoding('utf8');
    let answer = '';
    rude.on('data', (chunk: string) => (answer += chunk));
    rude.write('this is not json\n{"v":1,"id":7,"cmd":"explode"}\n{"v":9,"id":8,"cmd":"status"}\n');
    await waitUntil(() => answer.split('\n').length > 3, `three answers, got ${answer}`);
    const replies = answer
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: unknown; ok: boolean; error: { code: string } });
    assert.deepEqual(
      replies.map((r) => [r.id, r.ok, r.error.code]),
      [
        [null, false, 'BAD_REQUEST'],
        [7, false, 'BAD_REQUEST'],
        [8, false, 'UNSUPPORTED_VERSION'],
      ],
    );
    assert.equal((await status(socket)).code, 0, 'the run still answers');

    const idle = connect(socket);
    await once(idle, 'connect');
    const idleClosed = once(idle, 'close');
    corral.signal('SIGTERM');
    // Bounded: a run that waited for the idle client would never exit.
    await waitUntil(() => corral.child.exitCode !== null, 'corral to exit with a client connected', 20_000);
    assert.equal(await corral.exited, 0);
    await idleClosed;
    rude.destroy();
  });
});

test('another user (nobody) is refused on the socket; its owner is not', T, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to switch to nobody');
    return;
  }
  const s = scratch();
  const file = s.write('corral.yaml', `components:\n  app:\n    command: [${FIXTURES}forever]\n`);
  const socket = defaultSocketPath(file);
  const copy = cliForUser('nobody');
  t.after(copy.cleanup);
  const { uid, gid } = userIds('nobody');
  const asNobody = () =>
    spawnSync(
      'setpriv',
      [
        `--reuid=${uid}`,
        `--regid=${gid}`,
        '--clear-groups',
        '--',
        process.execPath,
        copy.path('bin/corral.js'),
        'stop',
        '--socket',
        socket,
      ],
      { encoding: 'utf8', cwd: copy.dir, timeout: 30_000 },
    );
  await session(s, ['run', '-f', file], async (corral) => {
    await statusWhen(socket, (r) => r.ready, 'ready');
    const refused = asNobody();
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /permission denied/);
    assert.equal((await status(socket)).code, 0, 'the stack runs on');
    // The negative control: the same command as the owner stops the stack.
    const owner = await ctl(socket, 'stop');
    assert.equal(owner.code, 0, owner.stderr);
    assert.equal(await corral.exited, 0);
  });
});

test('control commands refuse bad usage before asking anything (exit 2)', T, async () => {
  for (const args of [
    ['restart'],
    ['start'],
    ['logs', '-n', 'x'],
    ['status', 'app'],
    ['stop', '--json'],
    ['status', '--sighup', 'stop'],
    ['run', '--sighup', 'later'],
  ]) {
    const { code, stderr } = await runCorral(args);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.doesNotMatch(stderr, /no corral run serves/, 'nothing was asked');
  }
});
