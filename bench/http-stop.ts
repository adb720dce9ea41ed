/**
 * HTTP server stop: a server with 1,000 idle keep-alive connections and 10 requests in flight,
 * each answered 200 ms after the stop begins; the time from the stop's start until the server
 * has closed every connection (what a graceful stop must wait for). Three ways, in the same run,
 * back to back in a rotating order, each server in a fresh Node process:
 *   - corral: `httpServer()` in a Manager, stopped by aborting the run (drain phase included);
 *   - http-terminator 3: `createHttpTerminator({ server }).terminate()`;
 *   - node: `server.closeIdleConnections()` and `server.close()`, Node's own (Node 20 also closes
 *     the connections that are idle at the moment of the close).
 * Every server uses Node's defaults (keep-alive timeout 5 s). The clients run in this process
 * (Node's http.Agent with keep-alive); a request counts as cut when it got no complete 200.
 *
 *   node --import tsx bench/http-stop.ts [--repeats 7] [--hogs 2]
 *
 * `--hogs N` runs N CPU-bound processes (`node -e 'for(;;);'`) for the whole measurement, killed
 * by pid afterwards. The clients and each server hold about 1,000 file descriptors each: the
 * servers start under `prlimit --nofile=8192` when util-linux's prlimit is there; the bench itself
 * needs `ulimit -n` of at least 2,048 (it says so when it runs out).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killAll, started } from './support.js';

const IDLE = 1_000;
const IN_FLIGHT = 10;
/** How long after the stop begins each in-flight request is answered. */
const ANSWER_AFTER_MS = 200;
const KINDS = ['corral', 'http-terminator', 'node'] as const;
type Kind = (typeof KINDS)[number];

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '7' },
    hogs: { type: 'string', default: '0' },
    serve: { type: 'string' },
  },
});

/** Messages from a server process to the bench. */
type FromServer =
  | { type: 'listening'; port: number }
  | { type: 'in-flight'; count: number }
  | { type: 'stopped'; stopMs: number };

/** The server process: listens, counts the held requests, and on `stop` stops and reports. */
async function serve(kind: Kind): Promise<void> {
  const send = (message: FromServer): void => void process.send?.(message);
  let stopBegan: (() => void) | undefined;
  const stopping = new Promise<void>((resolve) => (stopBegan = resolve));
  let inFlight = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/slow') {
      res.end('fast\n');
      return;
    }
    send({ type: 'in-flight', count: ++inFlight });
    void stopping.then(() => setTimeout(() => res.end('slow\n'), ANSWER_AFTER_MS));
  });
  let stop: () => Promise<void>;
  if (kind === 'corral') {
    const { Manager } = await import('../src/core/manager.js');
    const { httpServer } = await import('../src/http/server.js');
    const component = httpServer({ name: 'http', server, address: '127.0.0.1:0' });
    const manager = new Manager();
    manager.add(component);
    const controller = new AbortController();
    const run = manager.run(controller.signal);
    await manager.whenReady();
    send({ type: 'listening', port: component.address?.port ?? 0 });
    stop = () => {
      controller.abort();
      return run;
    };
  } else {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    send({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
    if (kind === 'http-terminator') {
      const { createHttpTerminator } = await import('http-terminator');
      const terminator = createHttpTerminator({ server });
      stop = () => terminator.terminate();
    } else {
      stop = () =>
        new Promise<void>((resolve) => {
          server.closeIdleConnections();
          server.close(() => resolve());
        });
    }
  }
  await once(process, 'message');
  const begin = performance.now();
  stopBegan?.();
  await stop();
  send({ type: 'stopped', stopMs: performance.now() - begin });
  process.disconnect();
}

interface Measure {
  readonly stopMs: number;
  /** In-flight requests that did not get a complete 200. */
  readonly cut: number;
}

async function bench(): Promise<void> {
  const repeats = Number(args.repeats);
  const hogs = Array.from({ length: Number(args.hogs) }, () => {
    const hog = spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' });
    if (hog.pid) started.add(hog.pid);
    return hog;
  });
  const results = new Map<Kind, Measure[]>(KINDS.map((k) => [k, []]));
  try {
    for (let r = 0; r < repeats; r++) {
      for (let i = 0; i < KINDS.length; i++) {
        const kind = KINDS[(r + i) % KINDS.length] as Kind;
        results.get(kind)?.push(await measure(kind));
      }
    }
  } finally {
    killAll(hogs.flatMap((h) => (h.pid ? [h.pid] : [])));
  }
  console.log(
    `${IDLE} idle keep-alive connections + ${IN_FLIGHT} requests answered ${ANSWER_AFTER_MS} ms after the stop; ` +
      `${repeats} repeats, ${hogs.length} CPU hogs, load average ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log('| server | stop, median | worst | requests cut (all repeats) |');
  console.log('| --- | --- | --- | --- |');
  for (const [kind, measures] of results) {
    const times = measures.map((m) => m.stopMs).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? NaN;
    const worst = times.at(-1) ?? NaN;
    const cut = measures.reduce((sum, m) => sum + m.cut, 0);
    console.log(
      `| ${kind} | ${median.toFixed(0)} ms | ${worst.toFixed(0)} ms | ${cut} of ${IN_FLIGHT * measures.length} |`,
    );
  }
}

/** One server process of `kind`: connects, holds requests, stops it, and counts what was cut. */
async function measure(kind: Kind): Promise<Measure> {
  const self = fileURLToPath(import.meta.url);
  const node = [process.execPath, '--import', 'tsx', self, '--serve', kind];
  const command = hasPrlimit() ? ['prlimit', '--nofile=8192', ...node] : node;
  const child: ChildProcess = spawn(command[0] ?? '', command.slice(1), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid) started.add(child.pid);
  const messages: FromServer[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: FromServer) => {
    messages.push(m);
    wake?.();
  });
  const next = async <T extends FromServer['type']>(
    type: T,
    done: (m: Extract<FromServer, { type: T }>) => boolean = () => true,
  ): Promise<Extract<FromServer, { type: T }>> => {
    for (;;) {
      const found = messages.find((m) => m.type === type && done(m as Extract<FromServer, { type: T }>));
      if (found) return found as Extract<FromServer, { type: T }>;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
  try {
    const { port } = await next('listening');
    // All at once: the agent opens a connection per request it cannot give a free one.
    await Promise.all(Array.from({ length: IDLE }, () => get(agent, port, '/fast')));
    const idle = Object.values(agent.freeSockets).flat().length;
    if (idle !== IDLE) throw new Error(`${kind}: ${idle} idle connections instead of ${IDLE}`);
    const slow = Array.from({ length: IN_FLIGHT }, () =>
      get(agent, port, '/slow').then(
        (ok) => ok,
        () => false,
      ),
    );
    await next('in-flight', (m) => m.count === IN_FLIGHT);
    child.send('stop');
    const { stopMs } = await next('stopped');
    const answered = await Promise.all(slow);
    await once(child, 'exit');
    return { stopMs, cut: answered.filter((ok) => !ok).length };
  } finally {
    agent.destroy();
    if (child.pid) killAll([child.pid]);
  }
}

/** GET `path`; resolves true on a complete 200, rejects on a network error. */
function get(agent: Agent, port: number, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 && res.complete));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let prlimit: boolean | undefined;
function hasPrlimit(): boolean {
  return (prlimit ??= spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0);
}

if (args.serve) await serve(args.serve as Kind);
else await bench();
