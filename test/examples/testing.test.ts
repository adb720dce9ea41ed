import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';

test('the example test of examples/testing passes under node --test', { timeout: 60_000 }, async () => {
  // Without the runner's own marker, which would make the inner `node --test` report to it instead.
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-reporter=tap', 'examples/testing/greeter.test.ts'],
        { env, timeout: 50_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    },
  );
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /^# pass 2$/m);
  assert.match(stdout, /^# fail 0$/m);
});
