/**
 * Testing your own component with `corral/testing`: run it with `node --test`. (Vitest and Jest
 * work the same way: checkGraceful is a plain promise.)
 */
import assert from 'node:assert/strict';
import { Agent, get } from 'node:http';
import { test } from 'node:test';
// In your project: from 'corral/testing'.
import { checkGraceful } from '../../src/testing/index.js';
import { greeter } from './greeter.js';

/** GETs `path` from the greeter; resolves with the status and body. */
function fetchText(port: number, path: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('the greeter starts, stops and cleans up gracefully', async () => {
  // Fails with a GracefulCheckError (a `code` and a message naming the component) if not.
  const report = await checkGraceful(greeter(), { startWithin: 2_000, stopWithin: 2_000 });
  assert.ok(report.stopMs < 2_000);
});

test('a request in flight finishes during the stop; an idle keep-alive connection does not hold it', async () => {
  const component = greeter();
  const agent = new Agent({ keepAlive: true });
  let inFlight: Promise<{ status: number; body: string }> | undefined;
  const report = await checkGraceful(component, {
    stopWithin: 5_000,
    async beforeStop() {
      // One keep-alive connection left idle, and a slow request still running when the stop begins.
      await fetchText(component.port, '/', agent);
      inFlight = fetchText(component.port, '/?ms=300', new Agent({ keepAlive: true }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
  });
  assert.deepEqual(await inFlight, { status: 200, body: 'hello after 300ms\n' });
  assert.ok(report.stopMs >= 200, `the stop waited for the request (${report.stopMs}ms)`);
  agent.destroy();
});
