import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../../src/containment/liveness.js';
import { killPids, waitUntil } from './process.js';

/** Black-box helpers: run the built `corral` binary as a real process and watch what it does. */

export const CORRAL = fileURLToPath(new URL('../../bin/corral.js', import.meta.url));
/** What `npm install` links as `corral`: a shell script that starts bin/corral.js. */
const LAUNCHER = fileURLToPath(new URL('../../bin/corral', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const DEMO = fileURLToPath(new URL('../../examples/demo/', import.meta.url));

export interface Corral {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  stdout: string;
  stderr: string;
  /** JSON log records parsed from stdout (in JSON mode). */
  records(): Record<string, unknown>[];
  /** pids of every process the run spawned (from its `process.spawned` records). */
  spawnedPids(): number[];
  /** Resolves with the exit code once corral has exited. */
  readonly exited: Promise<number | null>;
  /** Waits until a JSON record satisfies `match`. */
  waitForRecord(
    match: (r: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<void>;
  signal(name: NodeJS.Signals): void;
}

export interface CorralOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** A command that execs the rest (so that the pid stays corral's), e.g. `['prlimit', '--nofile=64:64']`. */
  readonly prefix?: readonly string[];
  /** Runs `bin/corral`, the launcher an installed `corral` is, instead of `node bin/corral.js`. */
  readonly viaLauncher?: boolean;
}

/** Starts `corral <args>` with its output piped (so in JSON mode unless told otherwise). */
export function startCorral(args: string[], options: CorralOptions = {}): Corral {
  const [command = process.execPath, ...rest] = [
    ...(options.prefix ?? []),
    ...(options.viaLauncher ? [LAUNCHER] : [process.execPath, CORRAL]),
    ...args,
  ];
  const child = spawn(command, rest, {
    cwd: options.cwd ?? process.cwd(),
    env: {
      ...process.env,
      // The launcher runs the `node` it finds first on PATH: this one.
      ...(options.viaLauncher && { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const corral: Corral = {
    child,
    stdout: '',
    stderr: '',
    records() {
      // The last piece is a record still arriving (or empty).
      return corral.stdout
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    spawnedPids() {
      return corral
        .records()
        .filter((r) => r.event === 'process.spawned')
        .map((r) => r.pid as number);
    },
    exited: once(child, 'exit').then(([code]) => code as number | null),
    async waitForRecord(match, what, timeoutMs = 15_000) {
      await waitUntil(
        () => corral.records().some(match),
        `${what}\n--- stdout:\n${corral.stdout}\n--- stderr:\n${corral.stderr}`,
        timeoutMs,
      );
    },
    signal(name) {
      child.kill(name);
    },
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (corral.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (corral.stderr += chunk));
  return corral;
}

/** Runs corral to completion and returns its exit code and output. */
export async function runCorral(
  args: string[],
  options: CorralOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string; corral: Corral }> {
  const corral = startCorral(args, options);
  const code = await corral.exited;
  return { code, stdout: corral.stdout, stderr: corral.stderr, corral };
}

/** A directory for one test's stack file and markers, removed by `cleanup`. */
export function scratch(): {
  dir: string;
  write: (name: string, text: string) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  return {
    dir,
    write: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** GET `url`; resolves with status and body, or with status 0 when nothing answers. */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(5_000, () => req.destroy());
    req.end();
  });
}

/** After a test: corral and everything it spawned must be gone; kills leftovers and fails if any. */
export async function assertNothingLeft(corral: Corral): Promise<void> {
  const pids = [corral.child.pid ?? -1, ...corral.spawnedPids()];
  try {
    await waitUntil(
      () => pids.every((pid) => !isAlive(pid)),
      `left running: ${pids.filter(isAlive).join(', ')}`,
    );
  } finally {
    killPids(pids);
  }
}

/**
 * The demo's app behind the demo's TCP proxy, on free ports, with a readiness endpoint. `drain` is
 * the proxy's drain section as flow-style YAML fields; `ADMIN` in it stands for the proxy's
 * connection-count port.
 */
export async function proxiedDemo(s: ReturnType<typeof scratch>, drain: string) {
  const ports = {
    ready: await freePort(),
    app: await freePort(),
    proxy: await freePort(),
    admin: await freePort(),
  };
  const file = s.write(
    'corral.yaml',
    `readiness: { address: 127.0.0.1:${ports.ready} }
components:
  app:
    command: [node, ${DEMO}app.mjs]
    env: { PORT: "${ports.app}" }
    ready: { http: "http://127.0.0.1:${ports.app}/healthz", interval: 50ms }
  proxy:
    command: [node, ${DEMO}proxy.mjs]
    env: { PROXY_PORT: "${ports.proxy}", UPSTREAM_PORT: "${ports.app}", ADMIN_PORT: "${ports.admin}" }
    dependsOn: [app]
    ready: { tcp: "127.0.0.1:${ports.proxy}", interval: 50ms }
    drain: { ${drain.replaceAll('ADMIN', String(ports.admin))} }
`,
  );
  return { file, ports };
}

/**
 * Starts `corral <args>`, runs `body` against it, then requires that corral and everything it
 * spawned are gone. Whatever happens, corral is SIGKILLed and the scratch dir removed afterwards.
 */
export async function session(
  s: ReturnType<typeof scratch>,
  args: string[],
  body: (corral: Corral) => Promise<void>,
  options: CorralOptions = {},
): Promise<void> {
  const corral = startCorral(args, options);
  try {
    await body(corral);
    await assertNothingLeft(corral);
  } finally {
    corral.child.kill('SIGKILL');
    s.cleanup();
  }
}
