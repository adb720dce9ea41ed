import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process liveness read from /proc, the only source that tells a zombie from a live process.
 * `kill(pid, 0)` succeeds on a zombie, and PID 1 in a container may reap orphans late, so every
 * function here treats state `Z` (and `X`, dead) as gone. All reads are synchronous snapshots; a
 * process may appear or vanish right after one returns.
 */

/** The fields of /proc/<pid>/stat that Corral reads. */
export interface ProcStat {
  readonly pid: number;
  /** The executable's name as the kernel keeps it (at most 15 characters). */
  readonly comm: string;
  /** One letter: R running, S sleeping, D disk sleep, T stopped, Z zombie, X dead, … */
  readonly state: string;
  readonly ppid: number;
  /** Process group id. */
  readonly pgid: number;
  /** Session id. */
  readonly sid: number;
}

/** Reads /proc/<pid>/stat; `undefined` when the process does not exist (or vanished meanwhile). */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseStat(text);
}

/**
 * Parses one /proc/<pid>/stat line. `comm` sits in parentheses and may itself contain spaces and
 * parentheses, so the fields after it are found from the last `)`.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  const [state, ppid, pgid, sid] = rest;
  if (state === undefined || ppid === undefined || pgid === undefined || sid === undefined) {
    return undefined;
  }
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state,
    ppid: Number(ppid),
    pgid: Number(pgid),
    sid: Number(sid),
  };
}

/** True for a state letter of a process that can still run (anything but zombie or dead). */
export function isLiveState(state: string): boolean {
  return state !== 'Z' && state !== 'X' && state !== 'x';
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && isLiveState(stat.state);
}

/** Every process on the machine (in this PID namespace), zombies included. */
export function listProcesses(): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    // Only the numeric entries are processes; /proc/self and friends are not.
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    const stat = readStat(Number(entry));
    if (stat) all.push(stat);
  }
  return all;
}

/**
 * {@link listProcesses}, with each snapshot reused for up to `maxAgeMs`: for pollers that look at
 * about the same moments, as when every component of a stack stops at once and one scan can serve
 * them all. Its owner decides who shares it (see Isolation).
 */
export class ProcessTable {
  readonly #maxAgeMs: number;
  #last: { readonly at: number; readonly processes: ProcStat[] } | undefined;

  /** @param maxAgeMs how old a snapshot may be. @default 2 */
  constructor(maxAgeMs = 2) {
    this.#maxAgeMs = maxAgeMs;
  }

  /** Every process, zombies included, as of at most `maxAgeMs` ago. */
  list(): ProcStat[] {
    const now = performance.now();
    if (!this.#last || now - this.#last.at > this.#maxAgeMs)
      this.#last = { at: now, processes: listProcesses() };
    return this.#last.processes;
  }
}

/**
 * Live descendants of `pid` (children, grandchildren, …), found through parent links. A process
 * whose parent died was re-parented (to PID 1 or a subreaper) and is no longer found here, so
 * take this snapshot before killing anything in between.
 */
export function descendants(pid: number): number[] {
  const all = listProcesses();
  const children = new Map<number, ProcStat[]>();
  for (const p of all) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  const found: number[] = [];
  // A zombie is walked through (its children may still be alive) but not reported.
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.shift(); next; next = queue.shift()) {
    if (isLiveState(next.state)) found.push(next.pid);
    queue.push(...(children.get(next.pid) ?? []));
  }
  return found.sort((a, b) => a - b);
}
