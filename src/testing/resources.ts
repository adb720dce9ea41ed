import { descendants, readStat } from '../containment/liveness.js';
import { afterTurns } from './event-loop.js';

/**
 * What this process holds open, as {@link checkGraceful} compares it before and after a component
 * ran: Node's active handles and requests by kind (`process.getActiveResourcesInfo()`: the ones that
 * keep the event loop alive, so unref'd handles are not seen), and the live processes descended
 * from this one (from /proc, so an unref'd or detached child is seen as long as it lives).
 */
export interface ResourceSnapshot {
  readonly handles: ReadonlyMap<string, number>;
  readonly processes: ReadonlySet<number>;
}

/** What is open now that was not in a snapshot taken before. */
export interface OpenResources {
  /** How many more handles of each kind, by Node's name for the kind (`Timeout`, `TCPSocketWrap`…). */
  readonly handles: Readonly<Record<string, number>>;
  /** Live processes descended from this one that were not there before, by pid. */
  readonly processes: readonly number[];
}

/**
 * Takes a snapshot from a `setImmediate` callback, after a few turns of the event loop: the
 * snapshot's own waiting then holds no timer or immediate that would be counted, and handles whose
 * close has already begun are gone.
 */
export async function snapshot(): Promise<ResourceSnapshot> {
  await afterTurns(3);
  const handles = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) handles.set(kind, (handles.get(kind) ?? 0) + 1);
  return { handles, processes: new Set(descendants(process.pid)) };
}

/** What `now` holds open beyond `before`; `undefined` when nothing. */
export function openSince(before: ResourceSnapshot, now: ResourceSnapshot): OpenResources | undefined {
  const handles: Record<string, number> = {};
  for (const [kind, count] of now.handles) {
    const more = count - (before.handles.get(kind) ?? 0);
    if (more > 0) handles[kind] = more;
  }
  const processes = [...now.processes].filter((pid) => !before.processes.has(pid));
  if (Object.keys(handles).length === 0 && processes.length === 0) return undefined;
  return { handles, processes };
}

/**
 * Waits, polling, until nothing is open beyond `before` or `withinMs` passed. Resolves with what is
 * still open then (`undefined` once all closed).
 */
export async function untilClosed(
  before: ResourceSnapshot,
  withinMs: number,
): Promise<OpenResources | undefined> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const open = openSince(before, await snapshot());
    if (!open || performance.now() >= deadline) return open;
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}

/** Names for the kinds of handle a component most often leaves open; others keep Node's name. */
const KINDS: Readonly<Record<string, readonly [string, string]>> = {
  Timeout: ['timer', 'timers'],
  Immediate: ['immediate', 'immediates'],
  TCPSocketWrap: ['TCP socket', 'TCP sockets'],
  TCPServerWrap: ['TCP server', 'TCP servers'],
  PipeWrap: ['pipe', 'pipes'],
  UDPWrap: ['UDP socket', 'UDP sockets'],
  ProcessWrap: ['child process handle', 'child process handles'],
  FSReqCallback: ['file-system request', 'file-system requests'],
  FSReqPromise: ['file-system request', 'file-system requests'],
  FSEventWrap: ['file watcher', 'file watchers'],
  StatWatcher: ['file watcher', 'file watchers'],
  GetAddrInfoReqWrap: ['DNS lookup', 'DNS lookups'],
  SignalWrap: ['signal listener', 'signal listeners'],
  MessagePort: ['message port', 'message ports'],
};

/** `2 TCP sockets, 1 timer, process 4242 (sleep)`: for messages. */
export function describeOpen(open: OpenResources): string {
  const handles = Object.entries(open.handles).map(([kind, count]) => {
    const [one, many] = KINDS[kind] ?? [kind, kind];
    return `${count} ${count === 1 ? one : many}`;
  });
  const processes = open.processes.map((pid) => {
    const comm = readStat(pid)?.comm;
    return comm === undefined ? `process ${pid}` : `process ${pid} (${comm})`;
  });
  return [...handles, ...processes].join(', ');
}
