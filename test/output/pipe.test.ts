import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fixture, killPids } from '../helpers/process.js';

test(
  'out of file descriptors, opening OutputPipes settles (opens or rejects), never hangs',
  { timeout: 30_000 },
  async () => {
    // A low limit, so that filling it is quick.
    const child = spawn(
      'prlimit',
      ['--nofile=200:200', '--', process.execPath, '--import', 'tsx', fixture('output-pipes-short.ts')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      const [code] = (await once(child, 'exit')) as [number | null];
      const attempts = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { free: number; result: string; code?: string });
      assert.equal(attempts.length, 6, `every attempt settles; got:\n${stdout}`);
      assert.equal(code, 0);
      for (const attempt of attempts) {
        if (attempt.result === 'rejected')
          assert.match(String(attempt.code), /^(EMFILE|OUTPUT_PIPE_DROPPED)$/);
      }
      assert.ok(
        attempts.some((a) => a.result === 'rejected'),
        'the fewest descriptors must not be enough',
      );
      assert.equal(attempts.at(-1)?.result, 'opened', 'six free descriptors are enough for two pipes');
    } finally {
      clearTimeout(timer);
      if (child.pid !== undefined) killPids([child.pid]);
    }
  },
);
