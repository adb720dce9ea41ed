import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { DrainTriggerError } from '../../src/drain/errors.js';
import { callHttp, sendDrainSignal } from '../../src/drain/trigger.js';
import { isGone, testServer, waitFor } from './helpers.js';

const never = new AbortController().signal;

test('http trigger: method, path and headers as declared; POST by default', { timeout: 20_000 }, async () => {
  const server = await testServer(() => ({ status: 202, body: '' }));
  try {
    await callHttp({ url: `${server.url}/drain?graceful`, headers: { 'x-drain-token': 'abc' } }, never);
    await callHttp({ method: 'PUT', url: `${server.url}/other` }, never);
    assert.deepEqual(
      server.received.map((r) => [r.method, r.url, r.headers['x-drain-token']]),
      [
        ['POST', '/drain?graceful', 'abc'],
        ['PUT', '/other', undefined],
      ],
    );
  } finally {
    await server.close();
  }
});

test(
  'http trigger: a non-2xx answer fails, naming the URL without credentials or header values',
  { timeout: 20_000 },
  async () => {
    const server = await testServer(() => ({ status: 503, body: 'no' }));
    try {
      const url = server.url.replace('http://', 'http://admin:hunter2@');
      await assert.rejects(
        callHttp({ url: `${url}/drain`, headers: { authorization: 'Bearer tok3n' } }, never),
        (error: unknown) => {
          assert.ok(error instanceof DrainTriggerError);
          assert.equal(error.code, 'DRAIN_TRIGGER_FAILED');
          assert.match(error.message, /POST http:\/\/\*\*\*@127\.0\.0\.1:\d+\/drain answered 503/);
          assert.doesNotMatch(error.message, /hunter2|tok3n/);
          return true;
        },
      );
    } finally {
      await server.close();
    }
  },
);

test(
  'signal trigger: reaches every process in the group, and fails once the group is gone',
  { timeout: 20_000 },
  async () => {
    // A group leader that forks a worker; both report SIGUSR1 on stdout.
    const script = `
    const { spawn } = require('node:child_process');
    process.on('SIGUSR1', () => console.log('leader got SIGUSR1'));
    const w = spawn(process.execPath, ['-e', "process.on('SIGUSR1', () => console.log('worker got SIGUSR1')); console.log('worker up'); setInterval(() => {}, 1000)"], { stdio: 'inherit' });
    process.on('SIGTERM', () => { w.kill('SIGKILL'); process.exit(0); });
    setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const pid = child.pid ?? 0;
    try {
      await waitFor('the worker to start', () => output.includes('worker up'));
      await sendDrainSignal(pid, 'SIGUSR1');
      await waitFor(
        'both processes to get SIGUSR1',
        () => output.includes('leader got') && output.includes('worker got'),
      );
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
    await once(child, 'exit');
    await waitFor('the group to be gone', () => isGone(pid));

    // A group whose only member has exited and been reaped (a killed worker above may linger as a
    // zombie, which still counts as a member until PID 1 reaps it).
    const lone = spawn(process.execPath, ['-e', ''], { detached: true, stdio: 'ignore' });
    await once(lone, 'exit');
    await assert.rejects(sendDrainSignal(lone.pid ?? 0, 'SIGUSR1'), (error: unknown) => {
      assert.ok(error instanceof DrainTriggerError);
      assert.match(error.message, /could not send SIGUSR1 to process group \d+: ESRCH/);
      return true;
    });
  },
);
