import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { fromFunction, type Component } from '../../src/core/component.js';
import { Manager } from '../../src/core/manager.js';
import { HttpListenError } from '../../src/http/errors.js';
import { healthHandler, healthServer } from '../../src/http/health.js';
import { waitUntil } from '../helpers/process.js';
import { fetchVia, tcpHandles, waitForHandles } from './support.js';

/** /ready and /live for a library user's manager: on their own address, or on their own server. */

const T = { timeout: 30_000 };

/** A component that is ready, and finishes, only when the test says: it ignores its stop. */
function controlled(name: string, stopTimeout: number) {
  let markReady: (() => void) | undefined;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const component: Component = {
    name,
    stopTimeout,
    run: (_signal, ctx) => {
      markReady = () => ctx.ready();
      return finished;
    },
  };
  return { component, ready: () => markReady?.(), finish };
}

async function text(port: number, path: string): Promise<string> {
  const { status, body } = await fetchVia(false, port, path);
  return `${status} ${body.trim()}`;
}

test(
  '/ready and /live follow the manager: starting, ready, terminating, stuck past a stop timeout',
  T,
  async () => {
    const baseline = tcpHandles();
    const manager = new Manager();
    const app = controlled('app', 200);
    manager.add(app.component);
    const health = await healthServer({ manager, address: '127.0.0.1:0' });
    const { port } = health.address;
    try {
      assert.equal(await text(port, '/ready'), '503 NOT_READY');
      const stop = new AbortController();
      const done = manager.run(stop.signal);
      await waitUntil(() => manager.status()[0]?.state === 'starting', 'app starting');
      assert.equal(await text(port, '/ready'), '503 NOT_READY');
      assert.equal(await text(port, '/live'), '200 LIVE');
      app.ready();
      await manager.whenReady();
      assert.equal(await text(port, '/ready'), '200 READY');
      stop.abort();
      assert.equal(await text(port, '/ready'), '503 TERMINATING');
      assert.equal(await text(port, '/live'), '200 LIVE', 'stopping, within its stop timeout');
      // The app ignores its stop: past its 200 ms stop timeout it is stuck.
      await waitUntil(async () => (await text(port, '/live')) === '503 STUCK app', '/live says STUCK app');
      app.finish();
      await done;
      assert.equal(await text(port, '/live'), '200 LIVE', 'no longer stuck once it finished');
      assert.equal(await text(port, '/ready'), '503 TERMINATING');
      assert.equal(await text(port, '/other'), '404 not found');
    } finally {
      app.finish();
      await health.close();
    }
    await waitForHandles(baseline);
  },
);

test(
  '/ready answers TERMINATING once manager.drain() turned readiness off, as the CLI does on SIGUSR2',
  T,
  async () => {
    const manager = new Manager();
    manager.add(fromFunction('app', (signal) => once(signal, 'abort').then(() => undefined)));
    const health = await healthServer({ manager, address: '127.0.0.1:0' });
    const stop = new AbortController();
    const done = manager.run(stop.signal);
    try {
      await manager.whenReady();
      assert.equal(await text(health.address.port, '/ready'), '200 READY');
      await manager.drain();
      assert.equal(manager.phase(), 'running', 'a drain stops nothing');
      assert.equal(await text(health.address.port, '/ready'), '503 TERMINATING');
    } finally {
      stop.abort();
      await done;
      await health.close();
    }
  },
);

test(
  'healthServer binds loopback by default, and a busy address is an HttpListenError naming it',
  T,
  async () => {
    const manager = new Manager();
    const health = await healthServer({ manager, address: '0' });
    try {
      assert.equal(health.address.host, '127.0.0.1');
      const error = await healthServer({ manager, address: `127.0.0.1:${health.address.port}` }).then(
        () => assert.fail('bound a busy address'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof HttpListenError);
      assert.equal(
        error.message,
        `health server: cannot listen on 127.0.0.1:${health.address.port}: the address is already in use`,
      );
    } finally {
      await health.close();
    }
  },
);

test(
  'healthHandler mounts on an own server, passing other requests on; terminating() turns /ready off',
  T,
  async () => {
    const baseline = tcpHandles();
    const manager = new Manager();
    manager.add(fromFunction('app', (signal) => once(signal, 'abort').then(() => undefined)));
    let draining = false;
    const health = healthHandler(manager, { terminating: () => draining });
    const server = createServer((req, res) => {
      health(req, res, () => res.end('the application\n'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const stop = new AbortController();
    const done = manager.run(stop.signal);
    try {
      await manager.whenReady();
      assert.equal(await text(port, '/ready'), '200 READY');
      assert.equal(await text(port, '/'), '200 the application');
      draining = true;
      assert.equal(await text(port, '/ready'), '503 TERMINATING');
    } finally {
      stop.abort();
      await done;
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    }
    await waitForHandles(baseline);
  },
);
