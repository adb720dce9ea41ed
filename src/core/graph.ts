import type { Component } from './component.js';
import { InvalidStackError } from './errors.js';

/**
 * The dependency graph's policy: what may depend on what, and in which order things start and stop.
 * Pure functions over the declared components; the manager calls {@link validateGraph} before it
 * starts anything, so a bad graph never leaves a half-started stack behind.
 */

/**
 * Throws {@link InvalidStackError} for an unknown dependency, a cycle (naming it), or a non-leader
 * component depending on a leader one (it could never start on a follower).
 */
export function validateGraph(components: ReadonlyMap<string, Component>): void {
  for (const component of components.values()) {
    for (const dep of component.dependsOn ?? []) {
      const target = components.get(dep);
      if (!target) {
        throw new InvalidStackError(
          'UNKNOWN_DEPENDENCY',
          `component \`${component.name}\` depends on \`${dep}\`, which does not exist`,
          component.name,
        );
      }
      if (target.leader && !component.leader) {
        throw new InvalidStackError(
          'LEADER_DEPENDENCY',
          `component \`${component.name}\` depends on leader component \`${dep}\` but is not a leader component itself`,
          component.name,
        );
      }
    }
  }
  const [cycle] = findCycles(new Map([...components].map(([name, c]) => [name, c.dependsOn ?? []])));
  if (cycle) throw new InvalidStackError('DEPENDENCY_CYCLE', describeCycle(cycle), cycle[0]);
}

/**
 * Every dependency cycle in `graph` (each name with the names it depends on), as a closed path
 * that ends with the dependency closing it: `[a, b, a]` when `a` depends on `b` and `b` on `a`.
 * One per back edge of a depth-first search, in the order of the names and their dependencies;
 * names outside `graph` are skipped. Iterative, so a long chain cannot overflow the call stack.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'active' | 'done'>();
  for (const root of graph.keys()) {
    if (state.has(root)) continue;
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    state.set(root, 'active');
    for (let frame = stack.at(-1); frame; frame = stack.at(-1)) {
      const to = graph.get(frame.name)?.[frame.next++];
      if (to === undefined) {
        state.set(frame.name, 'done');
        stack.pop();
      } else if (state.get(to) === 'active') {
        const from = stack.findIndex((f) => f.name === to);
        cycles.push([...stack.slice(from).map((f) => f.name), to]);
      } else if (!state.has(to) && graph.has(to)) {
        state.set(to, 'active');
        stack.push({ name: to, next: 0 });
      }
    }
  }
  return cycles;
}

/** The one way a cycle is written, in the manager's errors and in a stack file's issues. */
export function describeCycle(cycle: readonly string[]): string {
  return `dependency cycle: ${cycle.join(' -> ')}`;
}

/**
 * Start order as waves: every component in a wave depends only on earlier waves, so a wave starts
 * concurrently. The graph must be valid. Stop order is the same waves reversed.
 */
export function startWaves(components: ReadonlyMap<string, Component>): string[][] {
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const deps = components.get(name)?.dependsOn ?? [];
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(depthOf));
    depth.set(name, d);
    return d;
  };
  const waves: string[][] = [];
  for (const name of components.keys()) {
    const d = depthOf(name);
    (waves[d] ??= []).push(name);
  }
  return waves.filter((wave) => wave.length > 0);
}
