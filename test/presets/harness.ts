import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest } from '../../src/util/http.js';
import type { EnvoyAdmin } from '../../src/presets/envoy/admin.js';
import { isGone, waitFor } from '../drain/helpers.js';

/** Shared by the preset tests: the doubles, their bootstraps and Corefiles, and what they record. */

export const envoyDouble = fileURLToPath(new URL('../fixtures/envoy-double', import.meta.url));
export const corednsDouble = fileURLToPath(new URL('../fixtures/coredns-double', import.meta.url));

/** A temporary directory, removed by `cleanup`. Short path: unix socket paths are limited to 107 bytes. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'crl-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for addresses that must be known in advance). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A minimal bootstrap: the admin address (`127.0.0.1:9901` or `unix:/path`) and one listener on port 0. */
export function bootstrapYaml(admin: string): string {
  const address = admin.startsWith('unix:')
    ? `    pipe: { path: ${admin.slice('unix:'.length)} }`
    : `    socket_address: { address: 127.0.0.1, port_value: ${admin.slice(admin.lastIndexOf(':') + 1)} }`;
  return [
    'admin:',
    '  address:',
    address,
    'static_resources:',
    '  listeners:',
    '    - name: inbound',
    '      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }',
    '',
  ].join('\n');
}

/** Writes a bootstrap for `admin` into `dir` and returns its path. */
export async function writeBootstrap(dir: string, admin: string): Promise<string> {
  const path = join(dir, 'envoy.yaml');
  await writeFile(path, bootstrapYaml(admin));
  return path;
}

/** One admin call the Envoy double recorded. */
export interface AdminCall {
  readonly method: string;
  readonly path: string;
  readonly at: number;
}

/** The admin calls recorded in `file`, in order (none yet when the file does not exist). */
export function readCalls(file: string): AdminCall[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AdminCall);
}

/** The calls that change something, as `METHOD path`: polls of /ready and /stats left out. */
export function mutations(file: string): string[] {
  return readCalls(file)
    .filter((c) => c.method !== 'GET')
    .map((c) => `${c.method} ${c.path}`);
}

/** The double's traffic listener address (`127.0.0.1:port`), from GET /listeners. */
export async function listenerAddress(admin: EnvoyAdmin): Promise<string> {
  const target =
    'socketPath' in admin.address
      ? { url: 'http://localhost/listeners', socketPath: admin.address.socketPath }
      : { url: `http://${admin.address.host}:${admin.address.port}/listeners` };
  const { body } = await httpRequest(target);
  const address = body.split('\n')[0]?.split('::')[1];
  if (!address) throw new Error(`no listener in ${JSON.stringify(body)}`);
  return address;
}

/**
 * Holds one connection to the listener open for `ms` (a slow request, on its own agent-less
 * connection). Resolves with the response body, or `error: …` if the connection was cut.
 */
export function holdConnection(address: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(`http://${address}/slow?ms=${ms}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', (error) => resolve(`error: ${error.message}`));
    });
    req.on('error', (error) => resolve(`error: ${error.message}`));
  });
}

/** A running Envoy double started directly (not through Corral), for admin API and drain tests. */
export interface StartedDouble {
  readonly child: ChildProcess;
  readonly callsFile: string;
  stop(): Promise<void>;
}

/** Starts the Envoy double with `bootstrap` in its own group and waits until its admin API answers /ready. */
export async function startEnvoyDouble(
  bootstrap: string,
  dir: string,
  admin: EnvoyAdmin,
  env: Record<string, string> = {},
  args: readonly string[] = ['--drain-time-s', '30', '--drain-strategy', 'immediate', '--log-level', 'off'],
): Promise<StartedDouble> {
  const callsFile = join(dir, `calls-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
  const child = spawn(envoyDouble, ['--config-path', bootstrap, ...args], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ENVOY_DOUBLE_CALLS_FILE: callsFile, ...env },
  });
  const exited = once(child, 'exit');
  await waitFor('the Envoy double to answer /ready', async () => {
    if (child.exitCode !== null) throw new Error(`the Envoy double exited with ${child.exitCode}`);
    return admin.ready().then(
      (r) => r.live,
      () => false,
    );
  });
  return {
    child,
    callsFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
        await exited;
      }
      await waitFor('the Envoy double to be gone', () => isGone(child.pid ?? 0));
    },
  };
}
