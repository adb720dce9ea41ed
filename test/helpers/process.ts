import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import type { OutputTarget } from '../../src/process/component.js';
import { isAlive, isLiveState, listProcesses } from '../../src/containment/liveness.js';
export { descendants } from '../../src/containment/liveness.js';
import { OutputSink } from '../../src/output/forward.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import type { ComponentContext } from '../../src/core/component.js';
import type { CorralEvent } from '../../src/events.js';

/** Shared by the process tests: fixture paths, bounded polling, line reading and cleanup by pid. */

/** Absolute path of a fixture executable in test/fixtures. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Polls `condition` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until every pid is gone (exited or zombie). */
export function waitGone(pids: readonly number[], timeoutMs = 5_000): Promise<void> {
  return waitUntil(
    () => pids.every((pid) => !isAlive(pid)),
    `pids ${pids.filter((pid) => isAlive(pid)).join(', ')} still alive`,
    timeoutMs,
  );
}

/**
 * Cleanup for a test that may have left processes behind: SIGKILLs each pid (and its group when it
 * leads one) if it is still alive. Only ever pids the test itself started or saw its fixtures print.
 */
export function killPids(pids: Iterable<number>): void {
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Already gone, or not a group leader.
      }
    }
  }
}

/**
 * Reads `stream` line by line, collecting every line. `next(pattern)` resolves with the first
 * line (seen so far or later) matching `pattern`, or rejects after `timeoutMs`.
 */
export class LineReader {
  readonly lines: string[] = [];
  #waiters = new Set<() => void>();
  #ended = false;

  constructor(stream: Readable) {
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.#waiters) wake();
    });
    void once(rl, 'close').then(() => {
      this.#ended = true;
      for (const wake of this.#waiters) wake();
    });
  }

  async next(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (this.#ended) throw new Error(`stream ended without a line matching ${pattern}`);
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `no line matching ${pattern} within ${timeoutMs}ms; got ${JSON.stringify(this.lines)}`,
        );
      }
      let wake = (): void => undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.add(wake);
      });
      this.#waiters.delete(wake);
    }
  }

  /** Every number captured by the first group of lines matching `pattern`. */
  numbers(pattern: RegExp): number[] {
    return this.lines.flatMap((line) => {
      const match = pattern.exec(line);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    });
  }
}

/** A ComponentContext for running a component without a manager; it records what it is told. */
export function testContext(name: string, clock: Clock = systemClock) {
  const events: CorralEvent[] = [];
  let markReady = (): void => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let isReady = false;
  const ctx: ComponentContext = {
    name,
    term: undefined,
    clock,
    ready: () => {
      isReady = true;
      markReady();
    },
    // The components under test are Corral's own: they publish only Corral's events.
    emit: (event) => events.push(event as CorralEvent),
  };
  return {
    ctx,
    events,
    /** Resolves when the component called `ready()`. */
    ready,
    get isReady() {
      return isReady;
    },
    /** The pid of the first `process.spawned` event, if any. */
    get pid(): number | undefined {
      return events.find((e) => e.type === 'process.spawned')?.pid;
    },
    exited() {
      return events.find((e) => e.type === 'process.exited');
    },
  };
}

/** An output target whose lines (`name | line`) the test reads. */
export function captureOutput(): { target: OutputTarget; lines: LineReader } {
  const stream = new PassThrough();
  return { target: { stdout: new OutputSink(stream) }, lines: new LineReader(stream) };
}

/** A 127.0.0.1 port the OS gave out and that is free for both TCP and UDP right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (udpFree) await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise((resolve) => server.close(resolve));
    if (udpFree) return port;
  }
}

/** Live members of process group `pgid` (zombies excluded), in pid order. */
export function groupMembers(pgid: number): number[] {
  return listProcesses()
    .filter((p) => p.pgid === pgid && isLiveState(p.state))
    .map((p) => p.pid);
}
