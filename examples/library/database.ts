/**
 * The demo's database: the one `DATABASE_URL` names, or else a throwaway PostgreSQL that the demo
 * runs itself, as two more components. `initdb` is a one-shot step into a temporary directory and
 * `postgres` is a long-running process, ready once `pg_isready` says so. Corral contains both like
 * any sidecar, so not even a SIGKILL of the demo leaves a server behind.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputSink, processComponent, type Component, type Isolation } from '../../src/index.js';

export interface Database {
  readonly url: string;
  /** The components that run the server; none when `DATABASE_URL` names one. */
  readonly components: Component[];
  /** The component the pool waits for, if any. */
  readonly dependsOn: string[];
  /** Removes the throwaway server's files; call after the manager has stopped. */
  remove(): void;
}

/** `output` receives PostgreSQL's log, each line prefixed with the component's name. */
export async function database(isolation: Isolation, output: OutputSink): Promise<Database> {
  const given = process.env.DATABASE_URL;
  if (given) return { url: given, components: [], dependsOn: [], remove: () => {} };

  const bin = postgresBin();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'corral-demo-pg-'));
  const data = join(dir, 'data');
  // PostgreSQL refuses to run as root: as root, the server runs as `nobody`.
  const user = process.getuid?.() === 0 ? 'nobody' : undefined;
  if (user) chownSync(dir, uid(user), uid(user));
  const common = { isolation, output: { stdout: output }, ...(user ? { user } : {}), env: { LC_ALL: 'C' } };

  const initdb = processComponent({
    ...common,
    name: 'initdb',
    oneShot: true,
    command: [join(bin, 'initdb'), '-D', data, '-U', 'demo', '--auth=trust', '--no-sync'],
  });
  const postgres = processComponent({
    ...common,
    name: 'postgres',
    dependsOn: ['initdb'],
    command: [
      join(bin, 'postgres'),
      ...['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'],
      ...['-c', 'fsync=off'],
    ],
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the server exits at once.
    stopSignal: 'SIGINT',
    ready: {
      exec: [
        join(bin, 'pg_isready'),
        '-q',
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'demo',
        '-d',
        'postgres',
      ],
    },
  });
  return {
    url: `postgres://demo@127.0.0.1:${port}/postgres`,
    components: [initdb, postgres],
    dependsOn: ['postgres'],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** initdb and postgres: on PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  const onPath = (process.env.PATH ?? '').split(':').find((dir) => dir && existsSync(join(dir, 'initdb')));
  if (onPath) return onPath;
  throw new Error('PostgreSQL is not installed: install it (apt-get install postgresql) or set DATABASE_URL');
}

function uid(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}
