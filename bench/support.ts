import { createServer, type AddressInfo } from 'node:net';
import { listProcesses, type ProcStat } from '../src/containment/liveness.js';

/** What the benchmarks share: waiting, walking a process tree, and cleaning up after themselves. */

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A zombie (or a dying process) counts as gone: PID 1 here reaps orphans only every few seconds. */
export const live = (p: ProcStat): boolean => p.state !== 'Z' && p.state !== 'X';

/** Every process in `pid`'s tree (itself excluded), zombies included. */
export function tree(pid: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const p of listProcesses()) {
    const siblings = byParent.get(p.ppid);
    if (siblings) siblings.push(p);
    else byParent.set(p.ppid, [p]);
  }
  const found: ProcStat[] = [];
  for (let queue = [...(byParent.get(pid) ?? [])], next = queue.shift(); next; next = queue.shift()) {
    found.push(next);
    queue.push(...(byParent.get(next.pid) ?? []));
  }
  return found;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Every pid a benchmark started or saw in a measured tree. If the benchmark itself is interrupted,
 * they are all SIGKILLed, so that an aborted run leaves nothing behind.
 */
export const started = new Set<number>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll(started);
    process.exit(130);
  });
}
