import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { readStat } from '../../src/containment/liveness.js';
import { freePort, get, runCorral } from '../helpers/cli.js';
import {
  corralUnder,
  membersOf,
  pid1Of,
  pid1Unavailable,
  pidNamespace,
  startAsPid1,
} from '../helpers/pid1.js';
import { killPids, waitUntil } from '../helpers/process.js';

/** examples/container without Docker: its stack file, and its entrypoint run as PID 1. */

const EXAMPLE = fileURLToPath(new URL('../../examples/container/', import.meta.url));

/** The Dockerfile's exec-form ENTRYPOINT. */
function entrypoint(): string[] {
  const line = /^ENTRYPOINT (.+)$/m.exec(readFileSync(`${EXAMPLE}Dockerfile`, 'utf8'))?.[1];
  return JSON.parse(line ?? '[]') as string[];
}

let unavailable: string | false = false;
before(async () => {
  unavailable = await pid1Unavailable();
});

describe('examples/container', { timeout: 60_000 }, () => {
  test('corral check accepts its stack file', async () => {
    const { code, stdout, stderr } = await runCorral(['check'], { cwd: EXAMPLE });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /valid, 2 components/);
  });

  test('its entrypoint, as PID 1, runs the stack under the init and stops it in order on SIGTERM', async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const [command, ...args] = entrypoint();
    assert.equal(command, 'corral', 'the entrypoint is `corral`, not node: only then can it run its init');
    const ports = { app: await freePort(), ready: await freePort() };
    // The image's defaults, moved to free loopback ports.
    const env = { PORT: String(ports.app), HOST: '127.0.0.1', READY_ADDRESS: `127.0.0.1:${ports.ready}` };
    const corral = startAsPid1([...args, '--log-format', 'json'], { cwd: EXAMPLE, env });
    try {
      const pid1 = await pid1Of(corral);
      const ns = pidNamespace(pid1) ?? 'gone';
      await waitUntil(
        async () => (await get(`http://127.0.0.1:${ports.ready}/ready`)).status === 200,
        `/ready\n${corral.stdout}\n${corral.stderr}`,
        30_000,
      );
      assert.equal(readStat(pid1)?.comm, 'sh', 'PID 1 is the init');
      corralUnder(pid1);
      assert.equal((await get(`http://127.0.0.1:${ports.app}/`)).status, 200);
      process.kill(pid1, 'SIGTERM');
      assert.equal(await corral.exited, 0, corral.stderr);
      const stopped = corral.records().filter((r) => r.event === 'component.stopped');
      assert.deepEqual(
        stopped.map((r) => r.component),
        ['housekeeping', 'app'],
      );
      await waitUntil(() => membersOf(ns).length === 0, 'the namespace emptied');
    } finally {
      corral.child.kill('SIGKILL');
      killPids([corral.child.pid ?? -1]);
    }
  });
});
