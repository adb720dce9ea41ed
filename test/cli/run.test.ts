import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import {
  assertNothingLeft,
  FIXTURES,
  freePort,
  get,
  proxiedDemo,
  runCorral,
  scratch,
  session,
} from '../helpers/cli.js';

const T = { timeout: 60_000 };
const event = (name: string) => (r: Record<string, unknown>) => r.event === name;
const componentEvent = (name: string, component: string) => (r: Record<string, unknown>) =>
  r.event === name && r.component === component;

test('a clean stop exits 0; /ready and /metrics report the run; nothing is left', T, async () => {
  const s = scratch();
  const [ready, metrics] = [await freePort(), await freePort()];
  const file = s.write(
    'corral.yaml',
    `readiness: { address: 127.0.0.1:${ready} }
metrics: { address: 127.0.0.1:${metrics} }
components:
  db:
    command: [${FIXTURES}forever]
  app:
    command: [${FIXTURES}forever]
    dependsOn: [db]
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await waitUntil(async () => (await get(`http://127.0.0.1:${ready}/ready`)).status === 200, 'READY');
    assert.deepEqual(await get(`http://127.0.0.1:${ready}/ready`), { status: 200, body: 'READY\n' });
    assert.equal((await get(`http://127.0.0.1:${ready}/other`)).status, 404);
    const text = (await get(`http://127.0.0.1:${metrics}/metrics`)).body;
    for (const line of [
      'corral_component_up{component="db"} 1',
      'corral_component_up{component="app"} 1',
      'corral_component_ready{component="app"} 1',
      'corral_component_restarts_total{component="app"} 0',
      'corral_shutdown_phase{phase="running"} 1',
      'corral_shutdown_phase{phase="stopping"} 0',
      'corral_ready 1',
    ]) {
      assert.ok(text.includes(line), `metrics lack ${line}:\n${text}`);
    }
    assert.match(text, /corral_component_stop_duration_seconds/);
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout + corral.stderr);
    const stops = corral
      .records()
      .filter((r) => r.event === 'component.stopped')
      .map((r) => r.component);
    assert.deepEqual(stops, ['app', 'db'], 'stopped in reverse dependency order');
    const report = corral.records().filter(event('stop.report'));
    assert.deepEqual(
      report.map((r) => [r.component, r.ended, r.forced]),
      [
        ['db', 'SIGTERM', false],
        ['app', 'SIGTERM', false],
      ],
    );
  });
});

test('every component finishing successfully exits 0', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:
  migrate:
    command: [${FIXTURES}exit-with-code, "0"]
    oneShot: true
  job:
    command: [${FIXTURES}exit-with-code, "0"]
    dependsOn: [migrate]
`,
  );
  const { code, corral } = await runCorral(['run', '-f', file]);
  s.cleanup();
  assert.equal(code, 0, corral.stdout + corral.stderr);
  assert.ok(corral.records().some(componentEvent('component.completed', 'job')));
});

test('a failing component exits 1 and the summary names it with its exit code', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:
  steady:
    command: [${FIXTURES}forever]
  broken:
    command: [${FIXTURES}exit-with-code, "3"]
    dependsOn: [steady]
`,
  );
  const { code, corral } = await runCorral(['run', '-f', file]);
  s.cleanup();
  assert.equal(code, 1);
  const summary = corral.records().find((r) => r.level === 50 && r.component === 'broken' && !r.event);
  assert.ok(summary, corral.stdout);
  assert.match(String(summary.msg), /component `broken` failed: .*(code|status) 3/);
  await assertNothingLeft(corral);
});

test('a component killed by a signal is reported shell-style in the stop report', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:\n  victim:\n    command: [${FIXTURES}exit-with-code, --signal, SIGSEGV]\n`,
  );
  const { code, corral } = await runCorral(['run', '-f', file]);
  s.cleanup();
  assert.equal(code, 1);
  const row = corral.records().find((r) => r.event === 'stop.report' && r.component === 'victim');
  assert.equal(row?.exitStatus, 128 + 11);
  assert.equal(row.ended, 'SIGSEGV');
});

test('the shutdown budget running out exits 1 listing who was still running, and kills it', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `shutdown: { timeout: 1s }
components:
  stubborn:
    command: [${FIXTURES}ignore-sigterm]
    ready: { log: "^ready" } # printed once SIGTERM is ignored
    stopTimeout: 1m
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord(componentEvent('component.ready', 'stubborn'), 'stubborn ready');
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 1);
    const stuck = corral.records().find(event('shutdown.stuck'));
    assert.deepEqual(
      (stuck?.stuck as { component: string; phase: string }[]).map((x) => [x.component, x.phase]),
      [['stubborn', 'stopping']],
    );
    assert.ok(corral.records().some((r) => /still running: `stubborn` \(stopping/.test(String(r.msg))));
  });
});

test('usage errors exit 2', T, async () => {
  for (const args of [
    ['frobnicate'],
    ['run', '--no-such-flag'],
    [],
    ['run', '--log-format', 'xml'],
    ['check', 'extra'],
  ]) {
    const { code, stderr } = await runCorral(args);
    assert.equal(code, 2, `corral ${args.join(' ')}`);
    assert.match(stderr, /^corral: /);
  }
  const version = await runCorral(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^corral \d+\.\d+\.\d+\n$/);
  const help = await runCorral(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: corral <command>/);
});

test('missing binaries exit 2, every one named with every place looked, and nothing starts', T, async () => {
  const s = scratch();
  const marker = `${s.dir}/started`;
  s.write(
    'bootstrap.yaml',
    'admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }\n',
  );
  const file = s.write(
    'corral.yaml',
    `components:
  first:
    command: [touch, ${marker}]
    oneShot: true
  ghost:
    command: [no-such-binary-corral-test-a]
  phantom:
    kind: envoy
    binary: no-such-binary-corral-test-b
    bootstrap: bootstrap.yaml
`,
  );
  const { code, stdout, stderr } = await runCorral(['run', '-f', file]);
  assert.equal(code, 2, stdout + stderr);
  for (const [component, binary] of [
    ['ghost', 'no-such-binary-corral-test-a'],
    ['phantom', 'no-such-binary-corral-test-b'],
  ]) {
    assert.match(
      stdout + stderr,
      new RegExp(
        `component \`${component}\`: binary \`${binary}\` not found; looked in .*/usr/bin/${binary}`,
      ),
    );
  }
  const { existsSync } = await import('node:fs');
  assert.equal(existsSync(marker), false, 'nothing may start when a binary is missing');
  s.cleanup();
});

test('a second SIGTERM skips the rest of the drain', T, async () => {
  const s = scratch();
  const { file, ports } = await proxiedDemo(s, 'signal: SIGUSR1, min: 1m, timeout: 2m');
  await session(s, ['run', '-f', file], async (corral) => {
    await waitUntil(
      async () => (await get(`http://127.0.0.1:${ports.ready}/ready`)).status === 200,
      'READY',
      15_000,
    );
    corral.signal('SIGTERM');
    await corral.waitForRecord(componentEvent('component.draining', 'proxy'), 'draining');
    assert.deepEqual(await get(`http://127.0.0.1:${ports.ready}/ready`), {
      status: 503,
      body: 'TERMINATING\n',
    });
    corral.signal('SIGINT');
    assert.equal(await corral.exited, 0);
    const drained = corral.records().find(componentEvent('component.drained', 'proxy'));
    assert.equal(drained?.skipped, true);
    assert.ok((drained.durationMs as number) < 30_000, 'the one-minute drain was cut short');
  });
});

test('a third signal SIGKILLs everything at once and exits 1', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:
  stubborn:
    command: [${FIXTURES}spawn-grandchildren, "2", --ignore-sigterm]
    ready: { log: "^ready" }
    stopTimeout: 1m
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord(componentEvent('component.ready', 'stubborn'), 'ready');
    corral.signal('SIGTERM');
    await corral.waitForRecord(componentEvent('component.stopping', 'stubborn'), 'stopping');
    corral.signal('SIGTERM');
    corral.signal('SIGHUP');
    assert.equal(await corral.exited, 1);
  });
});

test(
  'SIGUSR2 drains without stopping and turns /ready to 503; a later SIGTERM does not drain again',
  T,
  async () => {
    const s = scratch();
    const { file, ports } = await proxiedDemo(
      s,
      'signal: SIGUSR1, connections: { http: "http://127.0.0.1:ADMIN/connections" }, min: 0s, timeout: 30s',
    );
    await session(s, ['run', '-f', file], async (corral) => {
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${ports.ready}/ready`)).status === 200,
        'READY',
        15_000,
      );
      corral.signal('SIGUSR2');
      await corral.waitForRecord(componentEvent('component.drained', 'proxy'), 'drained');
      assert.deepEqual(await get(`http://127.0.0.1:${ports.ready}/ready`), {
        status: 503,
        body: 'TERMINATING\n',
      });
      // Still running: the proxy's listener is closed (drained) but nothing was stopped.
      assert.ok(!corral.records().some(event('component.stopping')));
      assert.equal((await get(`http://127.0.0.1:${ports.app}/healthz`)).status, 200);
      corral.signal('SIGUSR2'); // idempotent
      corral.signal('SIGTERM');
      assert.equal(await corral.exited, 0);
      assert.equal(corral.records().filter(event('component.draining')).length, 1, 'drained once');
    });
  },
);

test(
  '/ready is NOT_READY while starting, READY when all are ready, TERMINATING from the first signal',
  T,
  async () => {
    const s = scratch();
    const ready = await freePort();
    const file = s.write(
      'corral.yaml',
      `readiness: { address: 127.0.0.1:${ready} }
components:
  slow:
    command: [${FIXTURES}slow-to-become-ready, "1500"]
    ready: { log: "^ready", timeout: 30s }
  holder:
    # Survives its drain signal, so the drain holds the shutdown for its minimum.
    command: [node, -e, "process.on('SIGUSR1', () => {}); setInterval(() => {}, 1e6)"]
    drain: { signal: SIGUSR1, min: 2s, timeout: 5s }
`,
    );
    await session(s, ['run', '-f', file], async (corral) => {
      await waitUntil(async () => (await get(`http://127.0.0.1:${ready}/ready`)).status !== 0, 'endpoint up');
      assert.deepEqual(await get(`http://127.0.0.1:${ready}/ready`), { status: 503, body: 'NOT_READY\n' });
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${ready}/ready`)).status === 200,
        'READY',
        15_000,
      );
      corral.signal('SIGTERM');
      await corral.waitForRecord(event('shutdown.started'), 'shutdown');
      assert.deepEqual(await get(`http://127.0.0.1:${ready}/ready`), { status: 503, body: 'TERMINATING\n' });
      assert.equal(await corral.exited, 0);
    });
  },
);

test('every restart shows in /metrics, also those a crash loop does not announce', T, async () => {
  const s = scratch();
  const metrics = await freePort();
  const file = s.write(
    'corral.yaml',
    `metrics: { address: 127.0.0.1:${metrics} }
components:
  flaky:
    # Fails 12 times (exit 4), then stays up.
    shell: 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ "$n" -ge 12 ] && exec sleep 1000; exit 4'
    cwd: ${s.dir}
    restart: { maxRestarts: 20, backoff: { base: 50ms, max: 200ms } }
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await waitUntil(
      async () =>
        (await get(`http://127.0.0.1:${metrics}/metrics`)).body.includes(
          'corral_component_restarts_total{component="flaky"} 12',
        ),
      'twelve restarts counted',
      15_000,
    );
    const text = (await get(`http://127.0.0.1:${metrics}/metrics`)).body;
    assert.ok(text.includes('corral_component_last_exit_code{component="flaky"} 4'), text);
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0);
  });
});

test(
  'without workDir a private temporary dir is made and removed on exit, even after a failure',
  T,
  async () => {
    const s = scratch();
    const tmp = `${s.dir}/tmp`;
    const { mkdirSync, readdirSync } = await import('node:fs');
    mkdirSync(tmp);
    const file = s.write(
      'corral.yaml',
      `components:
  lister:
    # Shows what is in TMPDIR while Corral runs, then fails.
    shell: 'ls -l "$TMPDIR"; exit 3'
`,
    );
    const { code, corral } = await runCorral(['run', '-f', file], { env: { TMPDIR: tmp } });
    const lines = corral
      .records()
      .filter((r) => r.component === 'lister' && typeof r.line === 'string')
      .map((r) => r.line as string);
    assert.equal(code, 1);
    assert.ok(
      lines.some((l) => /^drwx------ .* corral-/.test(l)),
      `a 0700 corral-* dir existed during the run:\n${lines.join('\n')}`,
    );
    assert.deepEqual(readdirSync(tmp), [], 'removed on exit');
    s.cleanup();
  },
);

test('stop order holds through a finished one-shot step: db outlives api’s graceful stop', T, async () => {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `components:
  db:
    command: [${FIXTURES}forever]
  migrate:
    command: [${FIXTURES}exit-with-code, "0"]
    oneShot: true
    dependsOn: [db]
  api:
    shell: "trap 'sleep 0.3; exit 0' TERM; echo ready; sleep 1000 & wait"
    dependsOn: [migrate]
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord(componentEvent('component.ready', 'api'), 'api ready');
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout + corral.stderr);
    const order = corral
      .records()
      .filter((r) => r.event === 'component.stopping' || r.event === 'component.stopped')
      .map((r) => `${String(r.event).slice('component.'.length)}:${String(r.component)}`);
    assert.deepEqual(order, ['stopping:api', 'stopped:api', 'stopping:db', 'stopped:db']);
  });
});

test('stop order holds through a crashed component: dns outlives app when proxy fails', T, async () => {
  const s = scratch();
  const crash = `${s.dir}/crash`;
  const file = s.write(
    'corral.yaml',
    `components:
  dns:
    command: [${FIXTURES}forever]
  proxy:
    shell: "echo ready; while [ ! -e ${crash} ]; do sleep 0.05; done; exit 3"
    dependsOn: [dns]
  app:
    shell: "trap 'sleep 0.3; exit 0' TERM; echo ready; sleep 1000 & wait"
    dependsOn: [proxy]
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord(componentEvent('component.ready', 'app'), 'app ready');
    s.write('crash', '');
    assert.equal(await corral.exited, 1, corral.stdout + corral.stderr);
    const order = corral
      .records()
      .filter((r) => r.event === 'component.stopping' || r.event === 'component.stopped')
      .map((r) => `${String(r.event).slice('component.'.length)}:${String(r.component)}`);
    assert.deepEqual(order, ['stopping:app', 'stopped:app', 'stopping:dns', 'stopped:dns']);
  });
});
