import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { HttpCallError, httpRequest } from '../../src/util/http.js';
import { testServer } from '../drain/helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The Node modules a fresh process has loaded after running `code` (an ES module body). */
function nodeModulesAfter(code: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: root, timeout: 30_000 },
      (error, stdout) => {
        if (error) reject(new Error(`the child failed: ${error.message}`, { cause: error }));
        else resolve((JSON.parse(stdout) as string[]).filter((m) => m.startsWith('NativeModule ')));
      },
    );
  });
}

test(
  'the modules that make requests load no HTTP stack until a request is made (negative control: after one, they have)',
  { timeout: 60_000 },
  async () => {
    const modules = [
      './src/util/http.ts',
      './src/drain/trigger.ts',
      './src/drain/connections.ts',
      './src/presets/envoy/admin.ts',
      './src/process/probe/probe.ts',
    ];
    const imports = modules.map((m) => `await import(${JSON.stringify(m)});`).join('\n');
    const print = 'process.stdout.write(JSON.stringify(process.moduleLoadList));';
    const imported = await nodeModulesAfter(`${imports}\n${print}`);
    for (const stack of ['http', 'https', 'tls'])
      assert.ok(!imported.includes(`NativeModule ${stack}`), `importing loaded ${stack}`);

    const requested = await nodeModulesAfter(
      `const { httpRequest } = await import('./src/util/http.ts');
       await httpRequest({ url: 'http://127.0.0.1:1/' }).catch(() => undefined);
       ${print}`,
    );
    assert.ok(requested.includes('NativeModule http'), 'a request did not load http');
    assert.ok(!requested.includes('NativeModule https'), 'an http: request loaded https');
  },
);

test('status and body, whatever the status; basic auth from the URL', { timeout: 20_000 }, async () => {
  const server = await testServer((req) => ({
    status: 503,
    body: `auth ${req.headers.authorization ?? ''}`,
  }));
  try {
    const url = server.url.replace('http://', 'http://user:p%40ss@');
    const response = await httpRequest({ url: `${url}/x` });
    assert.deepEqual(response, {
      status: 503,
      body: `auth Basic ${Buffer.from('user:p@ss').toString('base64')}`,
    });
    assert.deepEqual(await httpRequest({ url: `${server.url}/y`, readBody: false }), {
      status: 503,
      body: '',
    });
  } finally {
    await server.close();
  }
});

test(
  'a body larger than the limit fails the call instead of being buffered',
  { timeout: 20_000 },
  async () => {
    const server = await testServer(() => ({ status: 200, body: 'x'.repeat(5000) }));
    try {
      await assert.rejects(httpRequest({ url: server.url, maxBodyBytes: 100 }), (error: unknown) => {
        assert.ok(error instanceof HttpCallError);
        assert.match(error.message, /^GET http:\/\/127\.0\.0\.1:\d+\/? answered with more than 100 bytes$/);
        return true;
      });
    } finally {
      await server.close();
    }
  },
);

test('no answer: an HttpCallError naming the URL redacted, the network error as its cause', async () => {
  await assert.rejects(
    httpRequest({ url: 'http://me:hunter2@127.0.0.1:1/p?token=t0k' }),
    (error: unknown) => {
      assert.ok(error instanceof HttpCallError);
      assert.equal(error.code, 'HTTP_CALL_FAILED');
      assert.match(
        error.message,
        /^GET http:\/\/\*\*\*@127\.0\.0\.1:1\/p\?token=\*\*\* failed: connect ECONNREFUSED/,
      );
      assert.doesNotMatch(error.message, /hunter2|t0k/);
      assert.match((error.cause as Error).message, /^connect ECONNREFUSED 127\.0\.0\.1:1$/);
      return true;
    },
  );
  await assert.rejects(httpRequest({ url: 'ftp://127.0.0.1/' }), /unsupported URL scheme/);
});

test('an abort rejects with the signal’s reason', { timeout: 20_000 }, async () => {
  const server = await testServer(() => new Promise(() => undefined));
  try {
    const stop = new AbortController();
    const pending = httpRequest({ url: server.url, signal: stop.signal });
    const reason = new Error('given up');
    setTimeout(() => stop.abort(reason), 50);
    await assert.rejects(pending, (error: unknown) => error === reason);
  } finally {
    await server.close();
  }
});
