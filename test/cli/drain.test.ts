import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import { DEMO, FIXTURES, freePort, get, proxiedDemo, scratch, session } from '../helpers/cli.js';

const T = { timeout: 90_000 };
/** The proxy drains on SIGUSR1 and reports its open connections over HTTP. */
const COUNTED = 'signal: SIGUSR1, connections: { http: "http://127.0.0.1:ADMIN/connections" }';
const record = (event: string, component: string) => (r: Record<string, unknown>) =>
  r.event === event && r.component === component;

test(
  'the drain ends as soon as the connections reach zero, and the request in flight succeeds',
  T,
  async () => {
    const s = scratch();
    const { file, ports } = await proxiedDemo(s, `${COUNTED}, min: 0s, timeout: 30s`);
    await session(s, ['run', '-f', file], async (corral) => {
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${ports.ready}/ready`)).status === 200,
        'READY',
        20_000,
      );
      const inFlight = get(`http://127.0.0.1:${ports.proxy}/slow?ms=1500`);
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${ports.admin}/connections`)).body === '1\n',
        'request in flight',
      );
      corral.signal('SIGTERM');
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.match(response.body, /after 1500ms/);
      assert.equal(await corral.exited, 0);
      const drained = corral.records().find(record('component.drained', 'proxy'));
      const ms = drained?.durationMs as number;
      assert.ok(ms > 500, `drained after ${ms}ms, before the request had finished`);
      assert.ok(ms < 20_000, `drained after ${ms}ms: it waited for the timeout instead of the count`);
    });
  },
);

test('the drain gives up at its timeout with a warning, and the stop goes on', T, async () => {
  const s = scratch();
  const { file, ports } = await proxiedDemo(s, `${COUNTED}, min: 0s, timeout: 1s`);
  await session(s, ['run', '-f', file], async (corral) => {
    await waitUntil(
      async () => (await get(`http://127.0.0.1:${ports.ready}/ready`)).status === 200,
      'READY',
      20_000,
    );
    void get(`http://127.0.0.1:${ports.proxy}/slow?ms=60000`);
    await waitUntil(
      async () => (await get(`http://127.0.0.1:${ports.admin}/connections`)).body === '1\n',
      'request in flight',
    );
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0);
    const drained = corral.records().find(record('component.drained', 'proxy'));
    const ms = drained?.durationMs as number;
    assert.ok(ms >= 900 && ms < 20_000, `drained after ${ms}ms`);
    assert.ok(corral.records().some((r) => r.event === 'warning' && r.code === 'DRAIN_TIMEOUT'));
  });
});

test('HAProxy from Debian drains with a slow request in flight, which completes', T, async () => {
  const s = scratch();
  const ports = { app: await freePort(), haproxy: await freePort() };
  s.write(
    'haproxy.cfg',
    `global
  maxconn 64
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind 127.0.0.1:${ports.haproxy}
  default_backend app
backend app
  server app1 127.0.0.1:${ports.app}
`,
  );
  const file = s.write(
    'corral.yaml',
    `components:
  app:
    command: [node, ${DEMO}app.mjs]
    env: { PORT: "${ports.app}" }
    ready: { http: "http://127.0.0.1:${ports.app}/healthz", interval: 50ms }
  haproxy:
    # -db: stay in the foreground. SIGUSR1 is HAProxy's soft stop: it closes its listeners,
    # serves the connections it has, and exits when they are done.
    command: [/usr/sbin/haproxy, -db, -f, haproxy.cfg]
    dependsOn: [app]
    ready: { tcp: "127.0.0.1:${ports.haproxy}", interval: 50ms }
    stopSignal: SIGUSR1
    drain:
      signal: SIGUSR1
      connections: { exec: [${FIXTURES}count-connections, "${ports.haproxy}"] }
      timeout: 30s
`,
  );
  await session(s, ['run', '-f', file], async (corral) => {
    await corral.waitForRecord(record('component.ready', 'haproxy'), 'haproxy ready', 20_000);
    assert.equal((await get(`http://127.0.0.1:${ports.haproxy}/`)).status, 200);
    const inFlight = get(`http://127.0.0.1:${ports.haproxy}/slow?ms=2000`);
    await waitUntil(
      () => execFileSync(`${FIXTURES}count-connections`, [String(ports.haproxy)]).toString() !== '0\n',
      'the request is in flight',
    );
    corral.signal('SIGTERM');
    await corral.waitForRecord(record('component.draining', 'haproxy'), 'draining');
    const response = await inFlight;
    assert.equal(response.status, 200, 'the request in flight completes');
    assert.match(response.body, /after 2000ms/);
    assert.equal(await corral.exited, 0, corral.stdout);
    const drained = corral.records().find(record('component.drained', 'haproxy'));
    assert.ok((drained?.durationMs as number) < 20_000);
  });
});
