import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { waitUntil } from '../helpers/process.js';
import { type Corral, FIXTURES, freePort, get, runCorral, scratch, session } from '../helpers/cli.js';

/** /ready and /metrics through the CLI: binding before anything starts, and clients that stall. */

const T = { timeout: 60_000 };

/** A TCP server holding `port` on 127.0.0.1, so that corral cannot bind it. */
async function occupy(port: number): Promise<Server> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** A client connected to 127.0.0.1:`port` that has sent `text` and then nothing more. */
async function stalledClient(port: number, text: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  if (text) socket.write(text);
  // Reads (and drops) whatever comes, so that the server closing the connection shows as 'close'.
  socket.resume();
  return socket;
}

for (const field of ['readiness', 'metrics'] as const) {
  test(`${field}.address in use exits 2 naming it, and nothing starts`, T, async () => {
    const s = scratch();
    const [taken, other] = [await freePort(), await freePort()];
    const blocker = await occupy(taken);
    try {
      const marker = `${s.dir}/started`;
      const addresses =
        field === 'readiness'
          ? `readiness: { address: 127.0.0.1:${taken} }\nmetrics: { address: 127.0.0.1:${other} }`
          : `readiness: { address: 127.0.0.1:${other} }\nmetrics: { address: 127.0.0.1:${taken} }`;
      const file = s.write(
        'corral.yaml',
        `${addresses}
components:
  first:
    command: [touch, ${marker}]
    oneShot: true
`,
      );
      const { code, stdout, stderr, corral } = await runCorral(['run', '-f', file]);
      assert.equal(code, 2, stdout + stderr);
      assert.match(
        stdout + stderr,
        new RegExp(`${field}\\.address: cannot listen on 127\\.0\\.0\\.1:${taken}`),
      );
      assert.match(stdout + stderr, /already in use/);
      assert.equal(existsSync(marker), false, 'nothing may start when an endpoint cannot be bound');
      assert.deepEqual(corral.spawnedPids(), []);
      // The other endpoint, if it was bound, was let go.
      const free = await occupy(other);
      free.close();
    } finally {
      blocker.close();
      s.cleanup();
    }
  });
}

/**
 * Runs corral with /ready and /metrics and one `forever` component, calls `body` once it is
 * ready, then requires that nothing is left. `clients` collects the test's sockets, destroyed
 * at the end whatever happened.
 */
async function withEndpoints(
  body: (corral: Corral, ports: { ready: number; metrics: number }, clients: Socket[]) => Promise<void>,
): Promise<void> {
  const s = scratch();
  const ports = { ready: await freePort(), metrics: await freePort() };
  const file = s.write(
    'corral.yaml',
    `readiness: { address: 127.0.0.1:${ports.ready} }
metrics: { address: 127.0.0.1:${ports.metrics} }
components:
  app:
    command: [${FIXTURES}forever]
`,
  );
  const clients: Socket[] = [];
  try {
    await session(s, ['run', '-f', file], async (corral) => {
      const url = `http://127.0.0.1:${ports.ready}/ready`;
      await waitUntil(async () => (await get(url)).status === 200, 'READY');
      await body(corral, ports, clients);
    });
  } finally {
    for (const client of clients) client.destroy();
  }
}

test('clients holding connections open on /ready and /metrics do not delay the exit', T, async () => {
  await withEndpoints(async (corral, ports, clients) => {
    for (const [port, path] of [
      [ports.ready, '/ready'],
      [ports.metrics, '/metrics'],
    ] as const) {
      clients.push(
        await stalledClient(port, ''),
        await stalledClient(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n`),
        await stalledClient(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
    }
    const stoppedAt = performance.now();
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout + corral.stderr);
    // A generous bound: the stop itself takes milliseconds; Node's own timeouts, a minute.
    assert.ok(performance.now() - stoppedAt < 5_000, 'corral waited for the stalled clients');
    await waitUntil(() => clients.every((c) => c.destroyed), 'connections closed');
  });
});

test('/live answers 200 LIVE beside /ready, from the same handler as the library', T, async () => {
  await withEndpoints(async (corral, ports) => {
    const live = await get(`http://127.0.0.1:${ports.ready}/live`);
    assert.deepEqual(live, { status: 200, body: 'LIVE\n' });
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout + corral.stderr);
  });
});

test('a client that never finishes its request is disconnected while corral runs', T, async () => {
  await withEndpoints(async (corral, ports, clients) => {
    for (const port of [ports.ready, ports.metrics]) {
      clients.push(await stalledClient(port, ''), await stalledClient(port, 'GET / HTTP/1.1\r\nHost: x\r\n'));
    }
    // Half a request, or none, is dropped within seconds (Node's own default is a minute).
    await waitUntil(() => clients.every((c) => c.destroyed), 'stalled clients disconnected', 20_000);
    assert.equal(
      (await get(`http://127.0.0.1:${ports.ready}/ready`)).status,
      200,
      'the endpoint still serves',
    );
    corral.signal('SIGTERM');
    assert.equal(await corral.exited, 0, corral.stdout + corral.stderr);
  });
});
