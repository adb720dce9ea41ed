import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Warning } from '../../../src/util/warning.js';
import { EnvoyAdmin } from '../../../src/presets/envoy/admin.js';
import { EnvoyDrainer } from '../../../src/presets/envoy/drain.js';
import { systemClock } from '../../../src/core/clock.js';
import { waitFor } from '../../drain/helpers.js';
import {
  freePort,
  holdConnection,
  listenerAddress,
  mutations,
  readCalls,
  startEnvoyDouble,
  tempDir,
  writeBootstrap,
} from '../harness.js';
import type { StartedDouble } from '../harness.js';

// The Envoy drain recipe against the Envoy double, on the real clock. Timing checks are generous
// liveness bounds (a busy 2-core box); bench/envoy-drain.ts measures the real figures.

const never = new AbortController().signal;

async function withDouble(
  body: (ctx: { admin: EnvoyAdmin; double: StartedDouble; listener: string }) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await tempDir();
  const address = `127.0.0.1:${await freePort()}`;
  const admin = new EnvoyAdmin(address);
  const double = await startEnvoyDouble(await writeBootstrap(dir, address), dir, admin);
  try {
    await body({ admin, double, listener: await listenerAddress(admin) });
  } finally {
    await double.stop();
    await cleanup();
  }
}

test(
  'the calls in order: /healthcheck/fail, /drain_listeners?graceful&inboundonly, then /stats polls',
  { timeout: 30_000 },
  async () => {
    await withDouble(async ({ admin, double }) => {
      const before = readCalls(double.callsFile).length;
      const result = await new EnvoyDrainer(admin, { timeout: 10_000 }).drain(never, { clock: systemClock });
      assert.equal(result.outcome, 'idle');
      assert.equal(result.lastCount, 0);
      const calls = readCalls(double.callsFile)
        .slice(before)
        .map((c) => `${c.method} ${c.path.replace(/\?filter=.*/, '?filter=…')}`);
      assert.deepEqual(calls, [
        'POST /healthcheck/fail',
        'POST /drain_listeners?graceful&inboundonly',
        'GET /stats?filter=…',
      ]);
    });
  },
);

test(
  'stops as soon as the held connection is gone, and the request completes',
  { timeout: 30_000 },
  async () => {
    await withDouble(async ({ admin, listener }) => {
      let requestEnd = Infinity;
      const held = holdConnection(listener, 1500).then((body) => {
        requestEnd = performance.now();
        return body;
      });
      await waitFor('the connection to be counted', async () => (await admin.activeConnections()) === 1);
      const result = await new EnvoyDrainer(admin, { min: 100, timeout: 20_000 }).drain(never, {
        clock: systemClock,
      });
      const drainEnd = performance.now();
      assert.equal(result.outcome, 'idle');
      assert.equal(await held, 'ok inbound\n');
      // The client may see the response end a little after Envoy closed the connection.
      assert.ok(drainEnd >= requestEnd - 200, `ended ${requestEnd - drainEnd}ms before the request did`);
      assert.ok(drainEnd - requestEnd < 3000, `ended ${drainEnd - requestEnd}ms after the request`);
    });
  },
);

test('min is respected with no connections at all', { timeout: 30_000 }, async () => {
  await withDouble(async ({ admin }) => {
    const result = await new EnvoyDrainer(admin, { min: 1200, timeout: 20_000 }).drain(never, {
      clock: systemClock,
    });
    assert.equal(result.outcome, 'idle');
    assert.ok(result.durationMs >= 1200, `ended before min: ${result.durationMs}ms`);
    assert.ok(result.durationMs < 8000, `took ${result.durationMs}ms`);
  });
});

test('timeout is respected with a connection that outlives it', { timeout: 30_000 }, async () => {
  await withDouble(async ({ admin, listener }) => {
    void holdConnection(listener, 8000);
    await waitFor('the connection to be counted', async () => (await admin.activeConnections()) === 1);
    const warnings: Warning[] = [];
    const result = await new EnvoyDrainer(admin, { timeout: 1000 }).drain(never, {
      clock: systemClock,
      warn: (w) => warnings.push(w),
    });
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.lastCount, 1);
    assert.ok(result.durationMs >= 1000 && result.durationMs < 5000, `took ${result.durationMs}ms`);
    assert.deepEqual(warnings, []);
  });
});

test(
  'an unreachable admin API: a warning and straight to the stop, no wait even with min',
  { timeout: 30_000 },
  async () => {
    const admin = new EnvoyAdmin(`127.0.0.1:${await freePort()}`);
    const warnings: Warning[] = [];
    const result = await new EnvoyDrainer(admin, { min: 5000, timeout: 30_000 }).drain(never, {
      clock: systemClock,
      warn: (w) => warnings.push(w),
    });
    assert.equal(result.outcome, 'trigger-failed');
    assert.ok(result.durationMs < 3000, `waited ${result.durationMs}ms`);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.code, 'ENVOY_ADMIN_UNREACHABLE');
    assert.match(warnings[0].message, /did not answer POST \/healthcheck\/fail/);
  },
);

test(
  'SIGUSR2 three times: one drain_listeners?inboundonly&graceful&skip_exit; the shutdown then drains no more',
  { timeout: 30_000 },
  async () => {
    await withDouble(async ({ admin, double }) => {
      const drainer = new EnvoyDrainer(admin, { min: 3000, timeout: 30_000 });
      const outcomes = await Promise.all([drainer.drainForever(), drainer.drainForever()]);
      outcomes.push(await drainer.drainForever());
      assert.deepEqual(outcomes, ['drained', 'drained', 'drained']);
      assert.deepEqual(mutations(double.callsFile), ['POST /drain_listeners?inboundonly&graceful&skip_exit']);

      const shutdown = await drainer.drain(never, { clock: systemClock });
      assert.equal(shutdown.outcome, 'already-draining');
      assert.ok(shutdown.durationMs < 1000, 'no wait, min notwithstanding');
      assert.deepEqual(mutations(double.callsFile), ['POST /drain_listeners?inboundonly&graceful&skip_exit']);
      // skip_exit: the listener still accepts after the drain started.
      assert.equal((await admin.stats()).get('listener_manager.listener_stopped'), 0);
    });
  },
);

test('a shutdown drain first: a later drain-forever sends nothing', { timeout: 30_000 }, async () => {
  await withDouble(async ({ admin, double }) => {
    const drainer = new EnvoyDrainer(admin, { timeout: 5000 });
    assert.equal((await drainer.drain(never, { clock: systemClock })).outcome, 'idle');
    assert.equal(await drainer.drainForever(), 'already-draining');
    assert.deepEqual(mutations(double.callsFile), [
      'POST /healthcheck/fail',
      'POST /drain_listeners?graceful&inboundonly',
    ]);
  });
});

test('a failed drain-forever warns, and the shutdown still drains', { timeout: 30_000 }, async () => {
  const unreachable = new EnvoyAdmin(`127.0.0.1:${await freePort()}`);
  const drainer = new EnvoyDrainer(unreachable, { timeout: 5000 });
  const warnings: Warning[] = [];
  assert.equal(await drainer.drainForever((w) => warnings.push(w)), 'failed');
  assert.equal(await drainer.drainForever((w) => warnings.push(w)), 'failed');
  assert.equal(warnings.length, 1, 'asked once, warned once');
  assert.equal(warnings[0]?.code, 'ENVOY_DRAIN_FOREVER_FAILED');
  const shutdown = await drainer.drain(never, { clock: systemClock, warn: (w) => warnings.push(w) });
  assert.equal(shutdown.outcome, 'trigger-failed', 'the shutdown drain was attempted');
});

test('the second signal skips the rest of the drain at once', { timeout: 30_000 }, async () => {
  await withDouble(async ({ admin, listener }) => {
    void holdConnection(listener, 8000);
    await waitFor('the connection to be counted', async () => (await admin.activeConnections()) === 1);
    const second = new AbortController();
    const draining = new EnvoyDrainer(admin, { timeout: 20_000 }).drain(second.signal, {
      clock: systemClock,
    });
    await waitFor('the drain to start', async () => (await admin.ready()).state === 'DRAINING');
    const skippedAt = performance.now();
    second.abort(new Error('second signal'));
    const result = await draining;
    assert.equal(result.outcome, 'skipped');
    assert.ok(performance.now() - skippedAt < 1000);
  });
});
