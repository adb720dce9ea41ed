import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import {
  assertNothingLeft,
  type CorralOptions,
  FIXTURES,
  runCorral,
  scratch,
  startCorral,
} from '../helpers/cli.js';

/**
 * Corral under a low open-file limit (`prlimit --nofile=N:N`, hard and soft, since Node raises the
 * soft limit to the hard one): whatever the limit, it says what went wrong and never hangs.
 */

const T = { timeout: 110_000 };
const OUT_OF_FILES = /too many open files \(EMFILE/;

/** How to run corral with at most `limit` open files. */
const limited = (limit: number): CorralOptions => ({
  prefix: ['prlimit', `--nofile=${limit}:${limit}`, '--'],
  // Under coverage, Node writes its report at exit, and reports on stderr that it could not.
  env: { NODE_V8_COVERAGE: undefined },
});

/** A stack file of `count` independent `forever` components; returns its path and their names. */
function stackOf(s: ReturnType<typeof scratch>, count: number): { file: string; names: string[] } {
  const names = Array.from({ length: count }, (_, i) => `c${i + 1}`);
  const file = s.write(
    'corral.yaml',
    `components:\n${names.map((n) => `  ${n}:\n    command: [${FIXTURES}forever]\n`).join('')}`,
  );
  return { file, names };
}

/**
 * Runs the stack under `limit` open files: either every component starts (then SIGTERM must stop
 * it cleanly), or the run fails on its own naming EMFILE, or Corral could not even load (one line,
 * exit 2). Whichever it is, it must happen within generous bounds, every component must be in the
 * stop report as stopped or failed (none "still running"), and nothing may be left behind.
 */
async function runUnderLimit(
  file: string,
  names: readonly string[],
  limit: number,
): Promise<'not loaded' | 'all started' | 'failed'> {
  const corral = startCorral(['run', '-f', file], limited(limit));
  const context = (): string =>
    `limit ${limit}\n--- stdout:\n${corral.stdout}\n--- stderr:\n${corral.stderr}`;
  let code: number | null | undefined;
  void corral.exited.then((c) => (code = c));
  try {
    const ready = (): number => corral.records().filter((r) => r.event === 'component.ready').length;
    await waitUntil(() => code !== undefined || ready() === names.length, `start: ${context()}`, 30_000);
    let outcome: 'all started' | 'failed';
    if (code === undefined) {
      outcome = 'all started';
      corral.signal('SIGTERM');
      await waitUntil(() => code !== undefined, `stop after SIGTERM: ${context()}`, 15_000);
      assert.equal(code, 0, context());
    } else if (code === 2) {
      assert.match(corral.stderr, /^corral: cannot start: too many open files[^\n]*\n$/, context());
      assert.deepEqual(corral.spawnedPids(), [], context());
      return 'not loaded';
    } else {
      outcome = 'failed';
      assert.equal(code, 1, context());
      const failures = corral.records().filter((r) => r.event === 'component.failed');
      assert.ok(failures.length > 0, context());
      for (const failure of failures) {
        assert.match(String((failure.err as { message?: unknown }).message), OUT_OF_FILES, context());
      }
    }
    const records = corral.records();
    assert.equal(records.filter((r) => r.event === 'shutdown.stuck').length, 0, context());
    const report = records.filter((r) => r.event === 'stop.report');
    assert.deepEqual(report.map((r) => r.component).sort(), [...names].sort(), context());
    for (const row of report) {
      assert.match(String(row.ended), /^(SIGTERM|failed: .*too many open files)/, context());
    }
    await assertNothingLeft(corral);
    return outcome;
  } finally {
    corral.child.kill('SIGKILL');
  }
}

test('too few descriptors to load Corral: one line on stderr, exit 2', T, async () => {
  const s = scratch();
  try {
    const { file } = stackOf(s, 1);
    // Enough for Node itself to start, far too few for Corral's modules.
    const { code, stdout, stderr } = await runCorral(['run', '-f', file], limited(28));
    assert.equal(code, 2, stdout + stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /^corral: cannot start: too many open files \(EMFILE[^\n]*`ulimit -n`\n$/);
  } finally {
    s.cleanup();
  }
});

test('30 components at limits around what their start needs: no run hangs', T, async () => {
  const s = scratch();
  try {
    const { file, names } = stackOf(s, 30);
    // Each limit runs out at a different step of the start (output pipes, their fallback, spawn).
    const outcomes = [];
    for (const limit of [100, 110, 120, 135, 150, 165])
      outcomes.push(await runUnderLimit(file, names, limit));
    assert.ok(
      outcomes.some((o) => o !== 'not loaded'),
      'no limit let Corral load: the test tried nothing',
    );
  } finally {
    s.cleanup();
  }
});

test('more components than the limit can hold: the run fails naming EMFILE, at once', T, async () => {
  const s = scratch();
  try {
    // Loading needs well under 130 descriptors; 80 running components need two each.
    const { file, names } = stackOf(s, 80);
    assert.equal(await runUnderLimit(file, names, 130), 'failed');
  } finally {
    s.cleanup();
  }
});
