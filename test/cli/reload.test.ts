import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from '../../src/containment/liveness.js';
import type { StatusReport } from '../../src/control/status-board.js';
import { planReload } from '../../src/cli/reload.js';
import { parseStack } from '../../src/stackfile/load.js';
import { FIXTURES, runCorral, scratch, session } from '../helpers/cli.js';
import { status, statusWhen } from '../helpers/control.js';
import { waitUntil } from '../helpers/process.js';

const T = { timeout: 90_000 };

/** A stack: db ← app ← web, and `extra` (a name given per version) on its own. */
function stack(appArg: string, extra: string): string {
  return `components:
  db:
    command: [${FIXTURES}forever]
  app:
    command: [sh, -c, 'exec sleep ${appArg}']
    dependsOn: [db]
  web:
    command: [${FIXTURES}forever]
    dependsOn: [app]
  ${extra}:
    command: [${FIXTURES}forever]
`;
}

/** The status report of the run serving `socket`; fails when nothing answers. */
async function report(socket: string): Promise<StatusReport> {
  const { report } = await status(socket);
  assert.ok(report, 'corral status answered');
  return report;
}

const pids = (report: StatusReport) => Object.fromEntries(report.components.map((c) => [c.name, c.pid]));

test('planReload: removed, changed, added and unchanged by name; other sections are not applied', () => {
  const before = parseStack(stack('1000', 'old'), { sourceName: 'a.yaml', baseDir: '/' });
  const after = parseStack(`metrics: {}\n${stack('2000', 'new')}`, { sourceName: 'b.yaml', baseDir: '/' });
  assert.deepEqual(planReload(before, after), {
    remove: ['old'],
    replace: ['app'],
    add: ['new'],
    unchanged: ['db', 'web'],
    notApplied: ['metrics'],
  });
  assert.deepEqual(planReload(before, before).replace, []);
});

for (const how of ['corral reload', 'SIGHUP'] as const) {
  test(
    `${how}: a changed component restarts with its dependents, removed stops, added starts, unchanged keeps its pid`,
    T,
    async () => {
      const s = scratch();
      const socket = join(s.dir, 'run', 'corral.sock');
      const file = s.write('corral.yaml', stack('1000', 'old'));
      await session(s, ['run', '-f', file, '--socket', socket], async (corral) => {
        await statusWhen(socket, (r) => r.ready, 'ready');
        const before = pids(await report(socket));

        s.write('corral.yaml', stack('2000', 'new'));
        if (how === 'SIGHUP') {
          corral.signal('SIGHUP');
          await corral.waitForRecord(
            (r) => r.event === 'component.ready' && r.component === 'new',
            'new ready',
          );
          await waitUntil(async () => (await report(socket)).ready, 'ready again', 20_000);
        } else {
          const reload = await runCorral(['reload', '--socket', socket]);
          assert.equal(reload.code, 0, reload.stderr);
          assert.match(
            reload.stdout,
            /stopping removed `old`; restarting changed `app` with their dependents; starting added `new`/,
          );
        }
        const after = await report(socket);
        assert.equal(after.ready, true);
        assert.deepEqual(
          after.components.map((c) => c.name),
          ['db', 'app', 'web', 'new'],
        );
        const now = pids(after);
        assert.equal(now.db, before.db, 'unchanged: same pid');
        assert.notEqual(now.app, before.app, 'changed: restarted');
        assert.notEqual(now.web, before.web, 'dependent of a changed one: restarted');
        for (const name of ['app', 'web', 'old'])
          assert.equal(isAlive(before[name] ?? -1), false, `old ${name} gone`);
        for (const name of ['db', 'app', 'web', 'new']) assert.ok(isAlive(now[name] ?? -1), `${name} runs`);

        corral.signal('SIGTERM');
        assert.equal(await corral.exited, 0, corral.stderr);
      });
    },
  );
}

test('an invalid reload changes nothing and says where, with the line', T, async () => {
  const s = scratch();
  const socket = join(s.dir, 'run', 'corral.sock');
  const file = s.write('corral.yaml', stack('1000', 'old'));
  await session(s, ['run', '-f', file, '--socket', socket], async (corral) => {
    await statusWhen(socket, (r) => r.ready, 'ready');
    const before = await report(socket);

    s.write('corral.yaml', `${stack('2000', 'new')}    stopTimeout: banana\n`);
    const reload = await runCorral(['reload', '--socket', socket]);
    assert.equal(reload.code, 1);
    assert.match(reload.stderr, /components\.new\.stopTimeout \(line 12\): expected a duration/);
    assert.match(reload.stderr, /nothing was changed/);
    // A reload by signal fails the same way, and the run goes on.
    corral.signal('SIGHUP');
    await corral.waitForRecord(
      (r) => typeof r.msg === 'string' && r.msg.includes('components.new.stopTimeout (line 12)'),
      'the run says why',
    );
    const after = await report(socket);
    assert.deepEqual(pids(after), pids(before), 'every component kept its process');
    assert.equal(after.ready, true);

    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0);
  });
});

test('--sighup=stop: SIGHUP stops the stack as SIGTERM does', T, async () => {
  const s = scratch();
  const socket = join(s.dir, 'run', 'corral.sock');
  const file = s.write('corral.yaml', stack('1000', 'old'));
  await session(s, ['run', '-f', file, '--socket', socket, '--sighup', 'stop'], async (corral) => {
    await statusWhen(socket, (r) => r.ready, 'ready');
    corral.signal('SIGHUP');
    assert.equal(await corral.exited, 0);
    assert.ok(corral.records().some((r) => r.event === 'shutdown.started'));
  });
});
