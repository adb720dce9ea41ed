import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { httpRequest } from '../../src/util/http.js';
import { isGone, waitFor } from '../drain/helpers.js';
import { corednsDouble, envoyDouble, freePort, holdConnection, tempDir } from './harness.js';

// examples/envoy-coredns run through `corral run` with the Envoy and CoreDNS doubles: start in
// dependency order, traffic through Envoy, DNS, a drain that waits for the request in flight, stop in
// reverse order, exit 0, nothing left. The example's fixed ports are swapped for free ones.

const example = fileURLToPath(new URL('../../examples/envoy-coredns/', import.meta.url));
const mainModule = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const EXAMPLE_PORTS = [9901, 9902, 15006, 15053, 15054, 15055, 19153, 8080];

/** Copies the example into `dir`, every fixed port replaced by a free one; returns the mapping. */
async function copyExample(dir: string): Promise<Map<number, number>> {
  await cp(example, dir, { recursive: true });
  const ports = new Map<number, number>();
  for (const port of EXAMPLE_PORTS) ports.set(port, await freePort());
  for (const file of ['corral.yaml', 'envoy.yaml']) {
    const text = await readFile(join(dir, file), 'utf8');
    await writeFile(
      join(dir, file),
      text.replace(/\b(9901|9902|15006|15053|15054|15055|19153|8080)\b/g, (p) =>
        String(ports.get(Number(p))),
      ),
    );
  }
  return ports;
}

function dnsQuery(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no DNS answer'));
    }, 3000);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    const question = Buffer.from([
      0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 97, 112, 112, 4, 109, 101, 115, 104, 0, 0, 1, 0, 1,
    ]);
    socket.send(question, port, '127.0.0.1');
  });
}

test(
  'the envoy-coredns example: ordered start, traffic and DNS, drain with a request in flight, reverse stop',
  { timeout: 90_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    const ports = await copyExample(dir);
    const port = (p: number) => ports.get(p) ?? 0;
    const entry = `const { main } = await import(${JSON.stringify(mainModule)}); process.exitCode = await main(process.argv.slice(1));`;
    const corral = spawn(
      process.execPath,
      // tsx by its path: the example runs in a temporary directory, where `tsx` does not resolve.
      [
        '--import',
        import.meta.resolve('tsx'),
        '--input-type=module',
        '-e',
        entry,
        'run',
        '--log-format',
        'json',
      ],
      {
        cwd: dir,
        env: { ...process.env, ENVOY_BINARY: envoyDouble, COREDNS_BINARY: corednsDouble },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    corral.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    corral.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = once(corral, 'exit');
    const records = () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event?: string; component?: string; pid?: number });
    const pids = () => records().flatMap((r) => (r.event === 'process.spawned' && r.pid ? [r.pid] : []));
    try {
      const ready = `http://127.0.0.1:${port(9902)}/ready`;
      // An early exit of corral ends the wait at once, with what it printed.
      const exitedEarly = new AbortController();
      void exited.then(([code]) => {
        exitedEarly.abort(
          new Error(`corral exited with ${String(code)} before the stack was ready:\n${out}\n${err}`),
        );
      });
      await waitFor(
        'the stack to be ready',
        async () => (await httpRequest({ url: ready }).catch(() => ({ status: 0 }))).status === 200,
        45_000,
        exitedEarly.signal,
      );
      const readyOrder = records().flatMap((r) => (r.event === 'component.ready' ? [r.component] : []));
      assert.deepEqual(readyOrder, ['dns', 'envoy', 'app']);

      const viaEnvoy = await httpRequest({ url: `http://127.0.0.1:${port(15006)}/` });
      assert.match(viaEnvoy.body, /hello from the app/);
      const answer = await dnsQuery(port(15053));
      assert.equal(answer.readUInt16BE(6), 1, 'one A record');

      const held = holdConnection(`127.0.0.1:${port(15006)}`, 2000);
      await waitFor('the request to reach the app', async () => {
        const stats = await httpRequest({
          url: `http://127.0.0.1:${port(9901)}/stats?filter=downstream_cx_active`,
        });
        return /listener\.127\.0\.0\.1_\d+\.downstream_cx_active: 1/.test(stats.body);
      });
      corral.kill('SIGTERM');
      await waitFor(
        '/ready to turn 503',
        async () => (await httpRequest({ url: ready }).catch(() => ({ status: 503 }))).status === 503,
        5000,
      );
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, `${out}\n${err}`);
      assert.match(await held, /hello from the app/, 'the request in flight completed');

      const stopOrder = records().flatMap((r) => (r.event === 'component.stopped' ? [r.component] : []));
      assert.deepEqual(stopOrder, ['app', 'envoy', 'dns']);
      assert.equal(pids().length, 3);
      await waitFor('every process to be gone', () => pids().every(isGone), 3000);
    } finally {
      if (corral.exitCode === null) {
        corral.kill('SIGKILL');
        for (const pid of pids()) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      await cleanup();
    }
  },
);
