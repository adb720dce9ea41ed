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
  const cycle = findCycle(components);
  if (cycle) {
    throw new InvalidStackError(
      'DEPENDENCY_CYCLE',
      `dependency cycle: ${cycle.map((n) => `\`${n}\``).join(' → ')}`,
      cycle[0],
    );
  }
}

/** A cycle as a closed path (`[a, b, a]`), or undefined. Depth-first with the usual three colours. */
function findCycle(components: ReadonlyMap<string, Component>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (name: string): string[] | undefined => {
    if (onPath.has(name)) return [...path.slice(path.indexOf(name)), name];
    if (done.has(name)) return undefined;
    onPath.add(name);
    path.push(name);
    for (const dep of components.get(name)?.dependsOn ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    onPath.delete(name);
    done.add(name);
    return undefined;
  };
  for (const name of components.keys()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
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
