import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formatAdminAddress } from '../../../src/presets/envoy/admin.js';
import { envoyComponent, prepareEnvoy } from '../../../src/presets/envoy/preset.js';
import type { EnvoyPresetConfig } from '../../../src/presets/envoy/preset.js';
import { Isolation } from '../../../src/containment/isolation.js';
import { ProcessExitError } from '../../../src/process/terminate.js';
import { fromFunction } from '../../../src/core/component.js';
import { ComponentFailedError } from '../../../src/core/errors.js';
import type { CorralEvent } from '../../../src/events.js';
import { Manager } from '../../../src/core/manager.js';
import { httpRequest } from '../../../src/util/http.js';
import { isGone, waitFor } from '../../drain/helpers.js';
import { captureOutput } from '../../helpers/process.js';
import {
  envoyDouble,
  freePort,
  holdConnection,
  listenerAddress,
  mutations,
  tempDir,
  writeBootstrap,
} from '../harness.js';

// The envoy preset through processComponent and the Manager, with the Envoy double as Envoy.

let isolation: Isolation;
before(async () => {
  isolation = await Isolation.create();
});
after(async () => {
  await isolation.close();
});

interface Setup {
  readonly dir: string;
  readonly config: EnvoyPresetConfig;
  readonly argvFile: string;
  readonly callsFile: string;
  cleanup(): Promise<void>;
}

async function setup(
  transport: 'tcp' | 'unix' = 'tcp',
  extra: Partial<EnvoyPresetConfig> = {},
): Promise<Setup> {
  const { dir, cleanup } = await tempDir();
  const admin = transport === 'tcp' ? `127.0.0.1:${await freePort()}` : `unix:${join(dir, 'admin.sock')}`;
  return {
    dir,
    config: {
      name: 'envoy',
      workDir: join(dir, 'work'),
      binary: envoyDouble,
      bootstrap: await writeBootstrap(dir, admin),
      admin,
      drain: { min: 0, timeout: 10_000 },
      ...extra,
    },
    argvFile: join(dir, 'argv.json'),
    callsFile: join(dir, 'calls.jsonl'),
    cleanup,
  };
}

/** A manager running the envoy component (plus `others`), recording events and the envoy pid. */
async function runStack(
  s: Setup,
  env: Record<string, string> = {},
  others: ReturnType<typeof fromFunction>[] = [],
) {
  const preset = await prepareEnvoy(s.config);
  const output = captureOutput();
  const component = envoyComponent(preset, {
    isolation,
    output: output.target,
    env: { ENVOY_DOUBLE_ARGV_FILE: s.argvFile, ENVOY_DOUBLE_CALLS_FILE: s.callsFile, ...env },
  });
  const manager = new Manager({ shutdownTimeout: 30_000 });
  const events: CorralEvent[] = [];
  manager.on((event) => events.push(event));
  manager.add(component);
  for (const other of others) manager.add(other);
  const stop = new AbortController();
  const running = manager.run(stop.signal);
  running.catch(() => undefined);
  const pid = () => events.find((e) => e.type === 'process.spawned')?.pid ?? 0;
  return { preset, manager, events, stop, running, pid };
}

test(
  'prepareEnvoy: a 0600 copy of the bootstrap in the work dir, and kuma-dp arguments pointing at it',
  { timeout: 20_000 },
  async () => {
    const s = await setup();
    try {
      // A stale copy with a wider mode must not keep it.
      const target = join(s.config.workDir, 'envoy', 'bootstrap.yaml');
      await writeFile(s.config.bootstrap, await readFile(s.config.bootstrap), { mode: 0o644 });
      const preset = await prepareEnvoy({ ...s.config, concurrency: 2 }, { platform: 'linux' });
      assert.equal(preset.bootstrapPath, target);
      assert.equal((await stat(target)).mode & 0o777, 0o600);
      assert.equal((await stat(join(s.config.workDir, 'envoy'))).mode & 0o777, 0o700);
      assert.equal(await readFile(target, 'utf8'), await readFile(s.config.bootstrap, 'utf8'));
      assert.deepEqual(preset.args, [
        '--config-path',
        target,
        '--drain-time-s',
        '10',
        '--drain-strategy',
        'immediate',
        '--disable-hot-restart',
        '--log-level',
        'info',
        '--concurrency',
        '2',
      ]);
      assert.deepEqual(preset.processOptions.command, [envoyDouble, ...preset.args]);
      assert.equal(preset.processOptions.stopSignal, 'SIGTERM');
      assert.deepEqual(preset.warnings, []);

      await writeFile(target, 'stale', { mode: 0o666 });
      await prepareEnvoy(s.config);
      assert.equal((await stat(target)).mode & 0o777, 0o600);
      assert.notEqual(await readFile(target, 'utf8'), 'stale');

      const mismatched = await prepareEnvoy({ ...s.config, admin: '127.0.0.1:1' });
      assert.equal(mismatched.warnings[0]?.code, 'ENVOY_ADMIN_MISMATCH');
      await assert.rejects(prepareEnvoy({ ...s.config, bootstrap: join(s.dir, 'missing.yaml') }), /ENOENT/);
    } finally {
      await s.cleanup();
    }
  },
);

for (const transport of ['tcp', 'unix'] as const) {
  test(
    `a full run over ${transport}: exact argv, ready from /ready, drain on stop with a request in flight, nothing left`,
    { timeout: 40_000 },
    async () => {
      const s = await setup(transport);
      try {
        const stack = await runStack(s);
        await waitFor('the stack to be ready', () => stack.manager.ready(), 15_000);
        assert.deepEqual(JSON.parse(readFileSync(s.argvFile, 'utf8')), stack.preset.args);
        assert.ok(stack.preset.args.includes('--cpuset-threads'));

        const held = holdConnection(await listenerAddress(stack.preset.admin), 1500);
        await waitFor(
          'the connection to be counted',
          async () => (await stack.preset.admin.activeConnections()) === 1,
        );
        stack.stop.abort();
        await stack.running;
        assert.equal(await held, 'ok inbound\n', 'the in-flight request completed');

        assert.deepEqual(mutations(s.callsFile), [
          'POST /healthcheck/fail',
          'POST /drain_listeners?graceful&inboundonly',
        ]);
        assert.equal(stack.preset.drains[0]?.outcome, 'idle');
        const exited = stack.events.find((e) => e.type === 'process.exited');
        assert.ok(exited?.type === 'process.exited');
        assert.equal(exited.forced, false);
        const order = stack.events
          .map((e) => e.type)
          .filter((t) => ['component.drained', 'component.stopping', 'process.exited'].includes(t));
        assert.deepEqual(order, ['component.drained', 'component.stopping', 'process.exited']);
        const warnings = stack.events.filter((e) => e.type === 'warning');
        assert.deepEqual(warnings, [], JSON.stringify(warnings));
        await waitFor('envoy to be gone', () => isGone(stack.pid()), 2000);
      } finally {
        await s.cleanup();
      }
    },
  );
}

test('Envoy exiting 0 on its own ends the run cleanly and stops the rest', { timeout: 30_000 }, async () => {
  const s = await setup();
  try {
    let appStopped = false;
    const app = fromFunction(
      'app',
      async (signal) => {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        appStopped = true;
      },
      { dependsOn: ['envoy'] },
    );
    const stack = await runStack(s, {}, [app]);
    await waitFor('the stack to be ready', () => stack.manager.ready(), 15_000);
    // Envoy leaves by itself with status 0 (as on POST /quitquitquit from an operator).
    const admin = formatAdminAddress(stack.preset.admin.address);
    await httpRequest({ method: 'POST', url: `http://${admin}/quitquitquit` });
    await stack.running;
    assert.ok(appStopped);
    assert.ok(!stack.stop.signal.aborted, 'nobody asked for the stop');
    assert.deepEqual(mutations(s.callsFile), ['POST /quitquitquit'], 'no drain after Envoy is gone');
    await waitFor('envoy to be gone', () => isGone(stack.pid()), 2000);
  } finally {
    await s.cleanup();
  }
});

test('Envoy exiting 1 on its own fails the run with its status', { timeout: 30_000 }, async () => {
  const s = await setup();
  try {
    const stack = await runStack(s, { ENVOY_DOUBLE_EXIT_AFTER_MS: '700', ENVOY_DOUBLE_EXIT_CODE: '1' });
    await assert.rejects(stack.running, (error: unknown) => {
      assert.ok(error instanceof ComponentFailedError);
      assert.equal(error.component, 'envoy');
      assert.ok(error.cause instanceof ProcessExitError);
      assert.equal(error.cause.exitCode, 1);
      return true;
    });
    await waitFor('envoy to be gone', () => isGone(stack.pid()), 2000);
  } finally {
    await s.cleanup();
  }
});

test(
  'SIGUSR2 (Manager.drain) three times: one drain-forever call; the stop then does not drain again',
  { timeout: 30_000 },
  async () => {
    const s = await setup('tcp', { drain: { min: 5000, timeout: 20_000 } });
    try {
      const stack = await runStack(s);
      await waitFor('the stack to be ready', () => stack.manager.ready(), 15_000);
      await Promise.all([stack.manager.drain(), stack.manager.drain()]);
      await stack.manager.drain();
      assert.deepEqual(mutations(s.callsFile), ['POST /drain_listeners?inboundonly&graceful&skip_exit']);

      const stoppedAt = performance.now();
      stack.stop.abort();
      await stack.running;
      assert.ok(performance.now() - stoppedAt < 4000, 'no drain wait (min is 5 s)');
      assert.deepEqual(mutations(s.callsFile), ['POST /drain_listeners?inboundonly&graceful&skip_exit']);
      await waitFor('envoy to be gone', () => isGone(stack.pid()), 2000);
    } finally {
      await s.cleanup();
    }
  },
);

test(
  'an unsupported Envoy version is a warning event naming the component, and Envoy still runs',
  { timeout: 30_000 },
  async () => {
    const s = await setup();
    try {
      const wrapper = join(s.dir, 'old-envoy');
      const version =
        '\nenvoy  version: 50ef0945fa2c5da4bff7627c3abf41fdd3b7cffd/1.20.0-dev/clean-getenvoy-2aa564b-envoy/RELEASE/BoringSSL\n';
      await writeFile(wrapper, `#!/bin/sh\nENVOY_DOUBLE_VERSION="${version}" exec ${envoyDouble} "$@"\n`, {
        mode: 0o755,
      });
      const stack = await runStack({ ...s, config: { ...s.config, binary: wrapper } });
      await waitFor('the version warning', () => stack.events.some((e) => e.type === 'warning'), 15_000);
      const warning = stack.events.find((e) => e.type === 'warning');
      assert.ok(warning?.type === 'warning');
      assert.equal(warning.code, 'ENVOY_VERSION_UNSUPPORTED');
      assert.equal(warning.component, 'envoy');
      await waitFor('the stack to be ready', () => stack.manager.ready(), 15_000);
      stack.stop.abort();
      await stack.running;
      assert.ok(existsSync(s.argvFile));
    } finally {
      await s.cleanup();
    }
  },
);
