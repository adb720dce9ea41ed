import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

test(
  'the library example starts in order and stops in reverse order on SIGINT',
  { timeout: 30_000 },
  async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/library/main.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('all components ready')) resolve();
      });
    });
    await ready;
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    const order = [...output.matchAll(/component\.(ready|stopped) (\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(order, [
      'ready db-pool',
      'ready http',
      'ready worker',
      'stopped worker',
      'stopped http',
      'stopped db-pool',
    ]);
    assert.match(output, /stopped cleanly/);
  },
);
