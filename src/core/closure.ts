import type { Entry } from './entry.js';

/**
 * `entries` and everything that depends on them, directly or through any chain: what stops with
 * them, since nothing may run while something it depends on is stopped. In no particular order;
 * the manager's pass orders the stop.
 */
export function withDependents(entries: Iterable<Entry>): Set<Entry> {
  return closure(entries, (entry) => entry.dependents);
}

/** `entries` and everything they depend on, directly or through any chain: what they need to run. */
export function withDependencies(entries: Iterable<Entry>): Set<Entry> {
  return closure(entries, (entry) => entry.dependencies);
}

function closure(entries: Iterable<Entry>, next: (entry: Entry) => readonly Entry[]): Set<Entry> {
  const found = new Set(entries);
  const pending = [...found];
  for (let entry = pending.pop(); entry; entry = pending.pop()) {
    for (const other of next(entry)) {
      if (found.has(other)) continue;
      found.add(other);
      pending.push(other);
    }
  }
  return found;
}
