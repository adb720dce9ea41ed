import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { ComponentFailedError } from '../../src/core/errors.js';
import { Manager } from '../../src/core/manager.js';
import type { LongLived } from '../../src/http/connections.js';
import { HttpListenError, HttpOptionsError } from '../../src/http/errors.js';
import { httpServer } from '../../src/http/server.js';
import { fixture, waitUntil } from '../helpers/process.js';
import { fetchVia, idleConnections, runServer, tcpHandles, waitForHandles } from './support.js';

/** The httpServer component with a real server, real clients and a real manager. */

const T = { timeout: 30_000 };

/** A drain phase that ends at once: the shutdown goes straight to the stop these tests are about. */
const NO_DRAIN = { drain: { timeout: 0 } };

/** The `HTTP_REQUESTS_CUT` warnings among `events`. */
function cuts(events: readonly { type: string; code?: unknown }[]): unknown[] {
  return events.filter((e) => e.type === 'warning' && e.code === 'HTTP_REQUESTS_CUT');
}

test('idle keep-alive connections do not hold the stop', T, async () => {
  const baseline = tcpHandles();
  const running = await runServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 50 });
  try {
    await idleConnections(agent, running.port, 20);
    const stoppedAt = performance.now();
    running.stop();
    await running.done;
    // The server keeps idle connections for a minute; the stop closes them at once.
    assert.ok(performance.now() - stoppedAt < 3_000, 'the stop waited for idle connections');
    assert.deepEqual(cuts(running.events), []);
    await waitUntil(() => Object.values(agent.freeSockets).flat().length === 0, 'the client saw them close');
  } finally {
    agent.destroy();
  }
  await waitForHandles(baseline);
});

test('a request in flight for 2 s completes, with Connection: close, before the stop ends', T, async () => {
  const baseline = tcpHandles();
  const running = await runServer();
  const agent = new Agent({ keepAlive: true });
  try {
    let finishedAt = Infinity;
    running.server.on('request', (_req, res: ServerResponse) =>
      res.on('finish', () => (finishedAt = performance.now())),
    );
    const answer = fetchVia(agent, running.port, '/slow?ms=2000');
    await waitUntil(() => running.held.length === 1, 'the server got the request');
    running.stop();
    const stoppedAt = await running.done.then(() => performance.now());
    assert.ok(finishedAt <= stoppedAt, 'the stop ended before the response did');
    const { status, headers, body } = await answer;
    assert.equal(status, 200);
    assert.equal(body, 'slow\n');
    assert.equal(headers.connection, 'close');
    assert.deepEqual(cuts(running.events), []);
  } finally {
    agent.destroy();
  }
  await waitForHandles(baseline);
});

test(
  'a request arriving during the stop on a kept-alive connection is answered with Connection: close',
  T,
  async () => {
    const baseline = tcpHandles();
    const running = await runServer(NO_DRAIN);
    const socket = connect(running.port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      let received = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      const closed = once(socket, 'close');
      let requests = 0;
      running.server.on('request', () => requests++);
      socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitUntil(() => requests === 1, 'the server got the first request');
      requests = 0;
      running.stop();
      await waitUntil(() => !running.server.listening, 'the stop began');
      // The second request comes on the same connection while the first is in flight.
      socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitUntil(() => requests === 1, 'the server got the second request');
      running.held[0]?.release();
      await closed;
      const responses = received.split(/(?=HTTP\/1\.1 )/);
      assert.equal(responses.length, 2, received);
      assert.match(responses[0] ?? '', /^HTTP\/1\.1 200[\s\S]*held\n$/);
      assert.doesNotMatch(
        responses[0] ?? '',
        /connection: close/i,
        'the first response said close too early',
      );
      assert.match(responses[1] ?? '', /^HTTP\/1\.1 200[\s\S]*connection: close[\s\S]*fast\n$/i);
      await running.done;
      assert.deepEqual(cuts(running.events), []);
    } finally {
      socket.destroy();
    }
    await waitForHandles(baseline);
  },
);

test(
  'a connection is closed as soon as its last response has ended, even with its headers sent before the stop',
  T,
  async () => {
    const baseline = tcpHandles();
    const running = await runServer(NO_DRAIN);
    const agent = new Agent({ keepAlive: true });
    try {
      const answer = fetchVia(agent, running.port, '/hold-headers');
      await waitUntil(() => running.held.length === 1, 'the server got the request');
      running.stop();
      await waitUntil(() => !running.server.listening, 'the stop began');
      running.held[0]?.release();
      const { headers, body } = await answer;
      assert.equal(body, 'held\n');
      // The headers went out before the stop and promised keep-alive; the server keeps its
      // connection for a minute, yet the stop ends at once.
      assert.equal(headers.connection, 'keep-alive');
      const releasedAt = performance.now();
      await running.done;
      assert.ok(performance.now() - releasedAt < 3_000, 'the connection was kept after its last response');
      assert.deepEqual(cuts(running.events), []);
    } finally {
      agent.destroy();
    }
    await waitForHandles(baseline);
  },
);

test(
  'an event stream is handed to onLongLived at the stop, then destroyed at the deadline and reported',
  T,
  async () => {
    const baseline = tcpHandles();
    const handed: LongLived[] = [];
    const running = await runServer({ ...NO_DRAIN, closeTimeout: 500, onLongLived: (c) => handed.push(c) });
    const req = request({ host: '127.0.0.1', port: running.port, path: '/sse', agent: false });
    try {
      req.end();
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      res.setEncoding('utf8');
      const [first] = (await once(res, 'data')) as [string];
      assert.equal(first, 'data: hello\n\n');
      let handedBeforeClose: boolean | undefined;
      res.on('error', () => undefined);
      const streamClosed = new Promise((resolve) => res.on('close', resolve)).then(
        () => (handedBeforeClose = handed.length === 1),
      );
      running.stop();
      await running.done;
      await streamClosed;
      assert.equal(handedBeforeClose, true, 'the hook was called before the stream closed');
      assert.equal(handed[0]?.kind, 'event-stream');
      assert.deepEqual(
        cuts(running.events).map((e) => {
          const { connections, requests, longLived } = e as Record<string, unknown>;
          return { connections, requests, longLived };
        }),
        [{ connections: 1, requests: 0, longLived: 1 }],
      );
    } finally {
      req.destroy();
    }
    await waitForHandles(baseline);
  },
);

test('an event stream the hook ends lets the stop finish at once, with nothing cut', T, async () => {
  const baseline = tcpHandles();
  const running = await runServer({
    closeTimeout: 20_000,
    onLongLived: (c) => {
      if (c.kind === 'event-stream') c.response.end('event: bye\ndata: stopping\n\n');
    },
  });
  const req = request({ host: '127.0.0.1', port: running.port, path: '/sse', agent: false });
  try {
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let body = '';
    res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    await waitUntil(() => body.includes('hello'), 'the first event');
    const stoppedAt = performance.now();
    running.stop();
    await running.done;
    assert.ok(performance.now() - stoppedAt < 10_000, 'the stop waited for the deadline');
    await waitUntil(() => res.complete, 'the stream ended');
    assert.match(body, /event: bye\ndata: stopping\n\n$/);
    assert.deepEqual(cuts(running.events), []);
  } finally {
    req.destroy();
  }
  await waitForHandles(baseline);
});

test('an upgraded connection is handed to onLongLived, and destroyed at the deadline', T, async () => {
  const baseline = tcpHandles();
  const handed: LongLived[] = [];
  const running = await runServer({ ...NO_DRAIN, closeTimeout: 500, onLongLived: (c) => handed.push(c) });
  // The application's own upgrade handling, added after the component was built (as `ws` does).
  running.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
  });
  const client = connect(running.port, '127.0.0.1');
  try {
    await once(client, 'connect');
    client.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    const [switched] = (await once(client.setEncoding('utf8'), 'data')) as [string];
    assert.match(switched, /^HTTP\/1\.1 101/);
    const closed = once(client, 'close');
    running.stop();
    await running.done;
    await closed;
    assert.deepEqual(
      handed.map((c) => c.kind),
      ['upgrade'],
    );
    assert.equal(cuts(running.events).length, 1);
  } finally {
    client.destroy();
  }
  await waitForHandles(baseline);
});

test('a request still running at the deadline is cut and counted', T, async () => {
  const baseline = tcpHandles();
  const running = await runServer({ ...NO_DRAIN, closeTimeout: 300 });
  const answer = fetchVia(false, running.port, '/hold').then(
    () => 'answered',
    () => 'cut',
  );
  await waitUntil(() => running.held.length === 1, 'the server got the request');
  running.stop();
  await running.done;
  assert.equal(await answer, 'cut');
  const warnings = cuts(running.events) as Record<string, unknown>[];
  assert.equal(warnings.length, 1);
  const warning = warnings[0] ?? {};
  assert.equal(warning.requests, 1);
  assert.equal(warning.component, 'api');
  assert.match(
    String(warning.message),
    /component `api` destroyed 1 connection at its 300ms close deadline: 1 request cut/,
  );
  await waitForHandles(baseline);
});

test(
  'drain: keeps serving, every response says Connection: close, and it ends once no connection is open',
  T,
  async () => {
    const baseline = tcpHandles();
    const running = await runServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    try {
      await idleConnections(agent, running.port, 5);
      const inFlight = fetchVia(agent, running.port, '/hold');
      await waitUntil(() => running.held.length === 1, 'the server got the request');
      const drained = running.manager.drain();
      assert.equal(running.manager.ready(), false, 'not ready while draining');
      // Idle connections are closed at once; new requests are still served, and close their connection.
      await waitUntil(() => Object.values(agent.freeSockets).flat().length === 0, 'idle connections closed');
      const during = await fetchVia(agent, running.port, '/fast');
      assert.equal(during.status, 200);
      assert.equal(during.headers.connection, 'close');
      let drainEnded = false;
      void drained.then(() => (drainEnded = true));
      running.held[0]?.release();
      assert.equal((await inFlight).headers.connection, 'close');
      await drained;
      assert.equal(drainEnded, true);
      assert.equal(running.server.listening, true, 'still serving after the drain');
      running.stop();
      await running.done;
    } finally {
      agent.destroy();
    }
    await waitForHandles(baseline);
  },
);

test('a busy port fails the component, naming the address', T, async () => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const address = blocker.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const manager = new Manager();
    const server = (await import('node:http')).createServer();
    manager.add(httpServer({ name: 'api', server, address: `127.0.0.1:${port}` }));
    const error = await manager.run(new AbortController().signal).then(
      () => assert.fail('the run succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ComponentFailedError);
    assert.ok(error.cause instanceof HttpListenError);
    assert.equal(error.cause.code, 'HTTP_LISTEN_FAILED');
    assert.deepEqual(error.cause.address, { host: '127.0.0.1', port });
    assert.equal(
      error.cause.message,
      `component \`api\`: cannot listen on 127.0.0.1:${port}: the address is already in use`,
    );
    assert.equal(server.listening, false);
  } finally {
    blocker.close();
  }
});

test('an address that is not one is refused when the component is built', () => {
  const server = createServer();
  assert.throws(
    () => httpServer({ name: 'api', server: server as never, address: 'http://localhost:80' }),
    (e: unknown) => e instanceof HttpOptionsError && e.option === 'address' && /URL/.test(e.message),
  );
});

test(
  'https: a connection still in its TLS handshake is closed at once, a request in flight completes',
  T,
  async () => {
    const baseline = tcpHandles();
    const tls = { key: readFileSync(fixture('tls/key.pem')), cert: readFileSync(fixture('tls/cert.pem')) };
    let release: (() => void) | undefined;
    const server = createHttpsServer(tls, (req, res) => {
      if (req.url === '/hold') release = () => res.end('held\n');
      else res.end('fast\n');
    });
    server.keepAliveTimeout = 60_000;
    const component = httpServer({ name: 'api', server, address: '127.0.0.1:0', ...NO_DRAIN });
    const manager = new Manager();
    manager.add(component);
    const stop = new AbortController();
    const done = manager.run(stop.signal);
    await manager.whenReady();
    const port = component.address?.port ?? 0;
    const agent = new HttpsAgent({ keepAlive: true, ca: tls.cert });
    // Connected, but it never starts its handshake.
    const stalled = connect(port, '127.0.0.1');
    stalled.on('error', () => undefined);
    try {
      await once(stalled, 'connect');
      const get = (path: string) =>
        new Promise<{ body: string; connection: string | undefined }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ body, connection: res.headers.connection }));
          });
          req.on('error', reject);
          req.end();
        });
      assert.equal((await get('/fast')).body, 'fast\n');
      const held = get('/hold');
      await waitUntil(() => release !== undefined, 'the server got the request');
      const stalledClosed = once(stalled, 'close');
      stop.abort();
      await stalledClosed;
      await waitUntil(
        () => Object.values(agent.freeSockets).flat().length === 0,
        'the idle connection closed',
      );
      release?.();
      assert.deepEqual(await held, { body: 'held\n', connection: 'close' });
      await done;
    } finally {
      stalled.destroy();
      agent.destroy();
    }
    await waitForHandles(baseline);
  },
);
