// A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary directory as an
// unprivileged user (initdb refuses to run as root), password authentication over TCP on 127.0.0.1
// at a port the OS picked, the unix socket inside the temporary directory, and durability switched
// off for speed. Start one per test file; `cleanup()` always stops it and removes the directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The role the code under test connects as: a plain LOGIN role that owns its database. */
export const APP_USER = 'corral';
export const APP_DATABASE = 'corral';

export interface PostgresCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The application role's password (tests check that it never leaks). */
  readonly password: string;
  /** Where the server writes its log. */
  readonly logFile: string;
  /** A connection string for the application role; `password` overrides the real one. */
  url(options?: { password?: string; database?: string }): string;
  /** Runs one statement as the superuser on a short-lived connection. */
  admin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Fast shutdown (SIGINT): sessions are terminated, the data stays. Resolves when the server exited. */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port; resolves when it accepts connections. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server (if running) and removes every file. Idempotent; never throws. */
  cleanup(): Promise<void>;
}

/** Finds initdb and postgres: on PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian). */
export function findPostgresBin(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath.replace(/\/initdb$/, '');
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error('PostgreSQL not found: no initdb on PATH or under /usr/lib/postgresql/*/bin');
  }
  return join(root, newest, 'bin');
}

/** As root, commands run as `nobody` through setpriv; as anyone else, directly. */
function unprivileged(): { uid: number; gid: number; prefix: string[] } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = ['-u', '-g'].map((flag) =>
    Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim()),
  );
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error('no `nobody` user to run PostgreSQL as');
  return {
    uid: uid as number,
    gid: gid as number,
    // --pdeathsig: if the test process dies, the postmaster gets SIGQUIT (immediate shutdown) and
    // takes its backends with it, so a crashed test run leaves no server behind.
    prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--pdeathsig=SIGQUIT', '--'],
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates, starts and returns a cluster; everything is removed again if any step fails. */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = findPostgresBin();
  const user = unprivileged();
  const dir = await mkdtemp(join(tmpdir(), 'corral-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const superPassword = `super-${Math.random().toString(36).slice(2)}`;
  const password = `app-${Math.random().toString(36).slice(2)}-pw`;
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let cleaned = false;

  const run = (argv: string[]): void => {
    const command = [...(user?.prefix ?? []), ...argv];
    const result = spawnSync(command[0] as string, command.slice(1), {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    if (result.status !== 0) {
      throw new Error(`${argv[0]} failed (${result.status}): ${result.stderr || result.stdout}`);
    }
  };

  const onExit = (): void => {
    // Synchronous last resort when the test process exits without running its cleanup.
    if (server?.exitCode === null && server.signalCode === null) server.kill('SIGQUIT');
  };
  process.once('exit', onExit);

  const launch = async (): Promise<void> => {
    const log = openSync(logFile, 'a');
    const argv = [
      join(bin, 'postgres'),
      '-D',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `port=${port}`,
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=16MB',
    ];
    const command = [...(user?.prefix ?? []), ...argv];
    const child = spawn(command[0] as string, command.slice(1), {
      stdio: ['ignore', log, log],
      env: { ...process.env, LC_ALL: 'C' },
    });
    closeSync(log);
    server = child;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (!alive()) {
        throw new Error(`postgres exited at start (${child.exitCode ?? child.signalCode}); see ${logFile}`);
      }
      const client = new pg.Client({ ...adminConfig(), connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.end();
        // Someone else may answer on this port (the OS gave it out again): only our own child counts.
        if (alive()) return;
      } catch {
        await client.end().catch(() => undefined);
      }
      if (performance.now() > deadline)
        throw new Error(`postgres did not accept connections; see ${logFile}`);
      await sleep(50);
    }
  };

  const running = (): boolean =>
    server !== undefined && server.exitCode === null && server.signalCode === null;

  const adminConfig = (): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superPassword,
    database: 'postgres',
  });

  const cluster: PostgresCluster = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    password,
    logFile,
    url: (options = {}) =>
      `postgres://${APP_USER}:${encodeURIComponent(options.password ?? password)}@127.0.0.1:${port}/${options.database ?? APP_DATABASE}`,
    async admin<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
      const client = new pg.Client({ ...adminConfig(), database: APP_DATABASE });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (await client.query<R>(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    async stop() {
      const child = server;
      if (!child || !running()) return;
      child.kill('SIGINT'); // fast shutdown: terminate sessions, checkpoint, exit
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
    async start() {
      if (running()) return;
      await launch();
    },
    async restart() {
      await cluster.stop();
      await cluster.start();
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        await cluster.stop();
      } catch {
        server?.kill('SIGKILL');
      }
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const pwFile = join(dir, 'superuser-password');
    writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
    if (user) chownSync(pwFile, user.uid, user.gid);
    run([
      join(bin, 'initdb'),
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      // Password authentication over TCP, so a wrong password is really refused.
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    rmSync(pwFile);
    // A port picked by the OS may be taken again before postgres binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
    await adminOn(adminConfig(), [
      `CREATE ROLE ${APP_USER} LOGIN PASSWORD '${password}'`,
      // The role owns its database, so it may create tables in `public` (PostgreSQL 15 no longer
      // lets everyone do that) without being a superuser.
      `CREATE DATABASE ${APP_DATABASE} OWNER ${APP_USER}`,
    ]);
    return cluster;
  } catch (error) {
    await cluster.cleanup();
    throw error;
  }
}

async function adminOn(config: pg.ClientConfig, statements: string[]): Promise<void> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}
