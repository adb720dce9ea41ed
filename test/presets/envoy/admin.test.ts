import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AdminAddressError,
  EnvoyAdmin,
  EnvoyAdminError,
  countConnections,
  parseAdminAddress,
  parseStats,
} from '../../../src/presets/envoy/admin.js';
import { waitFor } from '../../drain/helpers.js';
import {
  freePort,
  holdConnection,
  listenerAddress,
  readCalls,
  startEnvoyDouble,
  tempDir,
  writeBootstrap,
} from '../harness.js';

test('admin addresses: host:port, [ipv6]:port, unix:/path; anything else is an error naming the text', () => {
  assert.deepEqual(parseAdminAddress('127.0.0.1:9901'), { host: '127.0.0.1', port: 9901 });
  assert.deepEqual(parseAdminAddress('localhost:9901'), { host: 'localhost', port: 9901 });
  assert.deepEqual(parseAdminAddress('[::1]:9901'), { host: '::1', port: 9901 });
  assert.deepEqual(parseAdminAddress('unix:/run/envoy/admin.sock'), { socketPath: '/run/envoy/admin.sock' });
  for (const bad of [
    '9901',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    '::1:9901',
    '[nope]:1',
    'unix:',
  ]) {
    assert.throws(
      () => parseAdminAddress(bad),
      (error: unknown) => {
        assert.ok(error instanceof AdminAddressError);
        assert.equal(error.code, 'INVALID_ADMIN_ADDRESS');
        assert.ok(error.message.includes(`"${bad}"`));
        return true;
      },
    );
  }
});

test('countConnections: live listener gauges, without the admin listener and per-worker copies', () => {
  const stats = parseStats(
    [
      'listener.127.0.0.1_10000.downstream_cx_active: 2',
      'listener.127.0.0.1_10000.worker_0.downstream_cx_active: 1',
      'listener.127.0.0.1_10000.worker_1.downstream_cx_active: 1',
      'listener.inbound_8080.downstream_cx_active: 3',
      'listener.admin.downstream_cx_active: 1',
      'server.total_connections: 9',
      'cluster.x.upstream_rq_time: P0(nan,1) P25(nan,1)',
      '',
    ].join('\n'),
  );
  assert.equal(countConnections(stats), 5);
  // Without listener gauges, the server-wide gauge is what there is.
  assert.equal(
    countConnections(parseStats('server.total_connections: 4\nlistener.admin.downstream_cx_active: 1\n')),
    4,
  );
  assert.equal(countConnections(parseStats('server.uptime: 10\n')), undefined);
});

for (const transport of ['tcp', 'unix'] as const) {
  test(
    `admin API over ${transport}: /ready, /stats, connections, /healthcheck/fail`,
    { timeout: 30_000 },
    async () => {
      const { dir, cleanup } = await tempDir();
      const address =
        transport === 'tcp' ? `127.0.0.1:${await freePort()}` : `unix:${join(dir, 'admin.sock')}`;
      const admin = new EnvoyAdmin(address);
      // No stats flush during the test: server.total_connections stays stale, as it may for 5 s in Envoy.
      const double = await startEnvoyDouble(await writeBootstrap(dir, address), dir, admin, {
        ENVOY_DOUBLE_STATS_FLUSH_MS: '600000',
      });
      try {
        assert.deepEqual(await admin.ready(), { live: true, state: 'LIVE' });
        assert.equal(await admin.activeConnections(), 0);

        const held = holdConnection(await listenerAddress(admin), 1000);
        await waitFor('one active connection', async () => (await admin.activeConnections()) === 1);
        // Counted from the live listener gauge, not the stale server-wide one.
        assert.equal((await admin.stats()).get('server.total_connections'), 0);
        assert.equal(await held, 'ok inbound\n');
        await waitFor('no active connection', async () => (await admin.activeConnections()) === 0, 3000);
        // The stats request itself is an admin connection: counted there, and left out above.
        const stats = await admin.stats();
        assert.equal(stats.get('listener.admin.downstream_cx_active'), 1);

        await admin.failHealthchecks();
        assert.deepEqual(await admin.ready(), { live: false, state: 'DRAINING' });
        const paths = readCalls(double.callsFile).map((c) => `${c.method} ${c.path}`);
        assert.ok(paths.includes('POST /healthcheck/fail'));
        assert.ok(paths.some((p) => p.startsWith('GET /stats?filter=')));
      } finally {
        await double.stop();
        await cleanup();
      }
    },
  );
}

test(
  'an admin API that does not answer: ENVOY_ADMIN_UNREACHABLE naming the address and call',
  { timeout: 20_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const refused = new EnvoyAdmin(`127.0.0.1:${await freePort()}`);
      await assert.rejects(refused.failHealthchecks(), (error: unknown) => {
        assert.ok(error instanceof EnvoyAdminError);
        assert.equal(error.code, 'ENVOY_ADMIN_UNREACHABLE');
        assert.match(
          error.message,
          /at 127\.0\.0\.1:\d+ did not answer POST \/healthcheck\/fail: .*ECONNREFUSED/,
        );
        return true;
      });
      const noSocket = new EnvoyAdmin(`unix:${join(dir, 'missing.sock')}`);
      await assert.rejects(noSocket.ready(), /did not answer GET \/ready: .*ENOENT/);

      // Accepts the request and never answers: bounded by the request timeout.
      const address = `127.0.0.1:${await freePort()}`;
      const admin = new EnvoyAdmin(address, { requestTimeout: 300 });
      const double = await startEnvoyDouble(await writeBootstrap(dir, address), dir, admin, {
        ENVOY_DOUBLE_HANG_PATHS: '/healthcheck/fail',
      });
      try {
        const started = performance.now();
        await assert.rejects(admin.failHealthchecks(), /no answer within 300ms/);
        assert.ok(performance.now() - started < 5000);
      } finally {
        await double.stop();
      }
    } finally {
      await cleanup();
    }
  },
);
