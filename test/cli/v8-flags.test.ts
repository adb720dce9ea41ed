import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { deferOptimization, limitYoungGeneration, stopOptimizing } from '../../src/cli/v8-flags.js';

const run = promisify(execFile);
const module = new URL('../../src/cli/v8-flags.ts', import.meta.url).href;

/** Runs `code` (an ES module that may import `v8-flags`) in a fresh node, and returns its stdout. */
async function inFreshNode(code: string, nodeArgs: readonly string[] = []): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', code],
    { timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  return stdout;
}

/**
 * Prints the young generation's size, keeps allocating objects that survive a few scavenges (what
 * grows the young generation), and prints its size again.
 */
const allocate = `
import { getHeapSpaceStatistics } from 'node:v8';
const youngSize = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const before = youngSize();
const kept = [];
for (let i = 0; i < 400_000; i++) {
  kept.push({ i, text: 'x'.repeat(i % 64) });
  if (kept.length > 50_000) kept.splice(0, 25_000);
}
console.log(JSON.stringify([before, youngSize()]));
`;

test('limitYoungGeneration stops the young generation from growing (negative control: it grows without)', async () => {
  // Measured from the call on: loading tsx, before it, may already have grown it once.
  const [limitedBefore, limitedAfter] = JSON.parse(
    await inFreshNode(
      `import { limitYoungGeneration } from '${module}'; limitYoungGeneration();\n${allocate}`,
    ),
  ) as [number, number];
  assert.equal(limitedAfter, limitedBefore);
  const [before, after] = JSON.parse(await inFreshNode(allocate)) as [number, number];
  assert.ok(after >= 4 * before, `without the limit, from ${before} to ${after} bytes`);
});

/**
 * A hot function, run before and after resumeOptimization; prints whether TurboFan optimized it by
 * then. After the resume it runs until it is optimized (or long past any reasonable point), so
 * that a slow background compile on a busy machine cannot fail the test.
 */
const hot = (defer: boolean): string => `
import { deferOptimization, resumeOptimization } from '${module}';
${defer ? 'deferOptimization();' : ''}
// V8's own view, through a native (parsed by V8 at run time, not by the TypeScript loader):
// bit 4 of %GetOptimizationStatus is "optimized".
const optimized = (f) => (new Function('f', 'return %GetOptimizationStatus(f)')(f) & 16) !== 0;
function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s; }
for (let i = 0; i < 2000; i++) hot(10_000);
const before = optimized(hot);
resumeOptimization();
for (let i = 0; i < 100_000 && !optimized(hot); i++) hot(10_000);
console.log(JSON.stringify([before, optimized(hot)]));
`;

test('deferOptimization keeps TurboFan off until resumeOptimization (negative control: on without)', async () => {
  const [before, after] = JSON.parse(await inFreshNode(hot(true), ['--allow-natives-syntax'])) as boolean[];
  assert.equal(before, false, 'optimized while deferred');
  assert.equal(after, true, 'not optimized after the resume');

  const [control] = JSON.parse(await inFreshNode(hot(false), ['--allow-natives-syntax'])) as boolean[];
  assert.equal(control, true, 'without the deferral, the same function is optimized');
});

/**
 * A function made hot after deferOptimization, resumeOptimization and, with `stop`, stopOptimizing
 * (the CLI's sequence for start-up, running and shutdown); prints whether TurboFan optimized it.
 */
const hotAfter = (stop: boolean): string => `
import { deferOptimization, resumeOptimization, stopOptimizing } from '${module}';
deferOptimization();
resumeOptimization();
${stop ? 'stopOptimizing();' : ''}
const optimized = (f) => (new Function('f', 'return %GetOptimizationStatus(f)')(f) & 16) !== 0;
function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s; }
for (let i = 0; i < 20_000 && !optimized(hot); i++) hot(10_000);
console.log(JSON.stringify(optimized(hot)));
`;

test('stopOptimizing keeps TurboFan off for the shutdown (negative control: on without)', async () => {
  const stopped = JSON.parse(await inFreshNode(hotAfter(true), ['--allow-natives-syntax'])) as boolean;
  assert.equal(stopped, false, 'optimized after stopOptimizing');
  const control = JSON.parse(await inFreshNode(hotAfter(false), ['--allow-natives-syntax'])) as boolean;
  assert.equal(control, true, 'without stopOptimizing, the same function is optimized');
});

test('flags the user set on the command line or in NODE_OPTIONS are left alone', () => {
  // Each of these returns before touching V8, so this process's flags stay as they are.
  assert.equal(limitYoungGeneration(['--max-semi-space-size=64'], ''), false);
  assert.equal(limitYoungGeneration([], '--max_semi_space_size=8'), false);
  assert.equal(limitYoungGeneration([], '--semi-space-growth-factor=4'), false);
  assert.equal(deferOptimization(['--no-opt'], ''), false);
  assert.equal(deferOptimization([], '--turbofan --max-old-space-size=100'), false);
  // Nothing was deferred in this process, as when the user's flags prevailed: hands off.
  assert.equal(stopOptimizing(), false);
});
