import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { runDrain } from '../../src/drain/drain.js';
import type { Warning } from '../../src/util/warning.js';
import { planDrain } from '../../src/drain/spec.js';
import { systemClock } from '../../src/core/clock.js';
import { isGone, waitFor } from './helpers.js';

// The declared drain end to end, against a real drainable process and the real clock. Timing
// bounds are generous liveness checks; the precise timing rules are proven in idle.test.ts.

const fixture = fileURLToPath(new URL('../fixtures/double-drainable', import.meta.url));

async function startDrainable(): Promise<{
  child: ChildProcessByStdio<null, Readable, null>;
  port: number;
  control: number;
  stop(): Promise<void>;
}> {
  const child = spawn(fixture, [], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await waitFor('the drainable double to listen', () => /ports \d+ \d+/.test(output));
  const [, port, control] = /ports (\d+) (\d+)/.exec(output) ?? [];
  return {
    child,
    port: Number(port),
    control: Number(control),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-(child.pid ?? 0), 'SIGTERM');
        await once(child, 'exit');
      }
      await waitFor('the double to be gone', () => isGone(child.pid ?? 0));
    },
  };
}

test(
  'signal trigger + http count: ends as soon as the held request completes, and it succeeds',
  { timeout: 30_000 },
  async () => {
    const double = await startDrainable();
    try {
      let requestEnd = Infinity;
      const held = fetch(`http://127.0.0.1:${double.port}/slow?ms=1500`)
        .then((r) => r.text())
        .then((body) => {
          requestEnd = performance.now();
          return body;
        });
      await waitFor('the request to be in flight', async () => {
        const count = await fetch(`http://127.0.0.1:${double.control}/connections`).then((r) => r.text());
        return count.trim() === '1';
      });
      const warnings: Warning[] = [];
      const plan = planDrain(
        {
          trigger: { kind: 'signal', signal: 'SIGUSR1' },
          connections: { kind: 'http', url: `http://127.0.0.1:${double.control}/connections` },
          min: 200,
          timeout: 20_000,
        },
        { pid: double.child.pid },
      );
      const result = await runDrain(plan, {
        clock: systemClock,
        signal: new AbortController().signal,
        warn: (w) => warnings.push(w),
      });
      const drainEnd = performance.now();
      assert.equal(result.outcome, 'idle');
      assert.equal(result.lastCount, 0);
      assert.equal(await held, 'ok\n');
      // The client may see the response end a little after the server closed the connection.
      assert.ok(drainEnd >= requestEnd - 200, `ended ${requestEnd - drainEnd}ms before the request did`);
      assert.ok(drainEnd - requestEnd < 3000, `ended ${drainEnd - requestEnd}ms after the request`);
      assert.deepEqual(warnings, []);
    } finally {
      await double.stop();
    }
  },
);

test(
  'http trigger + exec count: a connection held past the timeout ends the drain at the timeout',
  { timeout: 30_000 },
  async () => {
    const double = await startDrainable();
    try {
      const held = fetch(`http://127.0.0.1:${double.port}/slow?ms=20000`).then(
        (r) => r.text(),
        () => 'aborted',
      );
      await waitFor('the request to be in flight', async () => {
        const count = await fetch(`http://127.0.0.1:${double.control}/connections`).then((r) => r.text());
        return count.trim() === '1';
      });
      const countScript = `fetch('http://127.0.0.1:${double.control}/connections').then(r => r.text()).then(t => process.stdout.write(t))`;
      const plan = planDrain({
        trigger: { kind: 'http', url: `http://127.0.0.1:${double.control}/drain` },
        connections: { kind: 'exec', command: [process.execPath, '-e', countScript] },
        timeout: 5000,
      });
      // A node process per count is slow to start on a busy machine: give each one time.
      const result = await runDrain(plan, {
        clock: systemClock,
        signal: new AbortController().signal,
        probeTimeout: 4000,
      });
      assert.equal(result.outcome, 'timeout');
      assert.equal(result.lastCount, 1);
      assert.ok(result.durationMs >= 5000 && result.durationMs < 10_000, `took ${result.durationMs}ms`);
      await double.stop();
      assert.equal(
        await held,
        'aborted',
        'the held request outlived the drain, as it should after a timeout',
      );
    } finally {
      await double.stop();
    }
  },
);

test(
  'a signal trigger for a process that is gone fails at once with a warning',
  { timeout: 30_000 },
  async () => {
    const double = await startDrainable();
    const pid = double.child.pid ?? 0;
    await double.stop();
    const warnings: Warning[] = [];
    const plan = planDrain(
      { trigger: { kind: 'signal', signal: 'SIGUSR1' }, min: 5000, timeout: 10_000 },
      { pid },
    );
    const result = await runDrain(plan, {
      clock: systemClock,
      signal: new AbortController().signal,
      warn: (w) => warnings.push(w),
    });
    assert.equal(result.outcome, 'trigger-failed');
    assert.ok(result.durationMs < 1000);
    assert.equal(warnings[0]?.code, 'DRAIN_TRIGGER_FAILED');
  },
);
