import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { processComponent } from '../../src/process/component.js';
import { Isolation } from '../../src/containment/isolation.js';
import { isAlive } from '../../src/containment/liveness.js';
import {
  captureOutput,
  freePort,
  groupMembers,
  killPids,
  testContext,
  waitUntil,
} from '../helpers/process.js';

/** Real servers from Debian's packages as process components. */

const NGINX = '/usr/sbin/nginx';
const DNSMASQ = '/usr/sbin/dnsmasq';

let isolation: Isolation;
let dir: string;
const seen = new Set<number>();

before(async () => {
  isolation = await Isolation.create();
  dir = await mkdtemp(join(tmpdir(), 'corral-servers-'));
});
after(async () => {
  killPids(seen);
  await isolation.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * An upstream whose `/slow` answers only after `delayMs`; `received` resolves as each request
 * arrives, so the test can stop nginx while one is in flight.
 */
async function slowUpstream(delayMs: number) {
  let onRequest = (): void => undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    onRequest();
    setTimeout(() => res.end(`slow answer for ${req.url ?? ''}\n`), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    nextRequest: () => new Promise<void>((resolve) => (onRequest = resolve)),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** GET http://127.0.0.1:<port><path>; resolves with status and body, or the error's code. */
function get(port: number, path: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

async function nginxConfig(name: string, port: number, upstream: number): Promise<string> {
  const prefix = join(dir, name);
  await mkdir(prefix, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `${kind}_temp_path ${join(prefix, kind)};`)
    .join('\n    ');
  const config = `${user}
worker_processes 2;
pid ${join(prefix, 'nginx.pid')};
error_log stderr notice;
events { worker_connections 64; }
http {
    access_log off;
    ${temp}
    server {
        listen 127.0.0.1:${port};
        location = /healthz { return 200 "ok\\n"; }
        location / { proxy_pass http://127.0.0.1:${upstream}; proxy_read_timeout 30s; }
    }
}
`;
  const path = join(prefix, 'nginx.conf');
  await writeFile(path, config);
  return path;
}

/**
 * Runs nginx with `stopSignal`, sends a slow request through it, stops nginx while the request is
 * in flight, and returns what the client got, how the run ended, and nginx's processes.
 */
async function stopNginxDuringRequest(stopSignal: NodeJS.Signals) {
  const upstream = await slowUpstream(1_500);
  const port = await freePort();
  const config = await nginxConfig(stopSignal, port, upstream.port);
  const output = captureOutput();
  const nginx = processComponent({
    name: 'nginx',
    command: [NGINX, '-p', join(dir, stopSignal), '-c', config, '-g', 'daemon off;'],
    stopSignal,
    stopTimeout: 10_000,
    ready: { http: `http://127.0.0.1:${port}/healthz`, interval: 50, timeout: 10_000 },
    isolation,
    output: output.target,
  });
  const t = testContext('nginx');
  const stop = new AbortController();
  try {
    const running = nginx.run(stop.signal, t.ctx).then(
      () => 'clean',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    await t.ready;
    const master = t.pid ?? 0;
    seen.add(master);
    await waitUntil(() => groupMembers(master).length === 3, 'nginx master and 2 workers');
    const members = groupMembers(master);
    for (const pid of members) seen.add(pid);

    const arrived = upstream.nextRequest();
    const response = get(port, '/slow');
    await arrived;
    const stoppedAt = performance.now();
    stop.abort();
    const [outcome, answer] = await Promise.all([running, response]);
    return {
      outcome,
      answer,
      stopMs: performance.now() - stoppedAt,
      members,
      exited: t.exited(),
      lines: output.lines.lines,
    };
  } finally {
    await upstream.close();
  }
}

test(
  'nginx stopped with SIGQUIT finishes an in-flight slow request; SIGTERM (control) cuts it',
  { timeout: 60_000 },
  async (t) => {
    if (!existsSync(NGINX)) {
      t.skip(`${NGINX} is not installed`);
      return;
    }
    const graceful = await stopNginxDuringRequest('SIGQUIT');
    assert.deepEqual(graceful.answer, { status: 200, body: 'slow answer for /slow\n' });
    assert.equal(graceful.outcome, 'clean');
    assert.equal(graceful.exited?.exitCode, 0);
    assert.equal(graceful.exited.forced, false);
    // The stop waited for the request (the upstream needed 1.5 s), but not for the stop timeout.
    assert.ok(graceful.stopMs > 500 && graceful.stopMs < 9_000, `stop took ${graceful.stopMs}ms`);
    assert.deepEqual(graceful.members.filter(isAlive), []);
    assert.ok(
      graceful.lines.some((l) => /gracefully shutting down/.test(l)),
      'nginx logs went through',
    );

    const fast = await stopNginxDuringRequest('SIGTERM');
    assert.ok(!('status' in fast.answer) || fast.answer.status !== 200, JSON.stringify(fast.answer));
    assert.equal(fast.outcome, 'clean');
    assert.deepEqual(fast.members.filter(isAlive), []);
  },
);

test('dnsmasq answers a DNS query once its readiness probe says ready', { timeout: 30_000 }, async (t) => {
  if (!existsSync(DNSMASQ)) {
    t.skip(`${DNSMASQ} is not installed`);
    return;
  }
  const port = await freePort();
  const output = captureOutput();
  const dnsmasq = processComponent({
    name: 'dns',
    command: [
      DNSMASQ,
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--address=/corral.test/127.0.0.9',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--log-facility=-',
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ],
    ready: { tcp: `127.0.0.1:${port}`, interval: 50, timeout: 10_000 },
    isolation,
    output: output.target,
  });
  const ctx = testContext('dns');
  const stop = new AbortController();
  const running = dnsmasq.run(stop.signal, ctx.ctx);
  try {
    await ctx.ready;
    seen.add(ctx.pid ?? 0);
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await resolver.resolve4('corral.test'), ['127.0.0.9']);
    assert.deepEqual(await resolver.resolve4('www.corral.test'), ['127.0.0.9']);
  } finally {
    stop.abort();
    await running;
  }
  assert.equal(isAlive(ctx.pid ?? 0), false);
  assert.ok(output.lines.lines.some((l) => /exiting on receipt of SIGTERM/.test(l)));
});
