import { describeCycle, findCycles } from '../core/graph.js';
import { describeValue, isRecord, type PathSegments } from './issues.js';

/**
 * Checks of the dependency graph that no schema can express: unknown names, self-references,
 * cycles, and a component that waits on a leader component without being one itself.
 *
 * They read the raw document rather than the validated stack, so that a file with a bad duration
 * and an unknown dependency reports both at once. Anything that is not shaped as expected is
 * skipped here; the schema reports it.
 */

export interface GraphProblem {
  readonly path: PathSegments;
  readonly message: string;
}

interface Edge {
  readonly to: string;
  readonly index: number;
}

export function checkDependencies(document: unknown): GraphProblem[] {
  const components = isRecord(document) ? document.components : undefined;
  if (!isRecord(components)) return [];
  const names = Object.keys(components);
  const problems: GraphProblem[] = [];
  const edges = new Map<string, Edge[]>();

  for (const name of names) {
    const spec = components[name];
    const dependsOn = isRecord(spec) && Array.isArray(spec.dependsOn) ? (spec.dependsOn as unknown[]) : [];
    const valid: Edge[] = [];
    const seen = new Set<string>();
    dependsOn.forEach((to, index) => {
      if (typeof to !== 'string') return;
      const path = ['components', name, 'dependsOn', index];
      if (seen.has(to)) problems.push({ path, message: `lists ${describeValue(to)} more than once` });
      else if (to === name)
        problems.push({ path, message: `${describeValue(name)} cannot depend on itself` });
      else if (!Object.hasOwn(components, to)) problems.push({ path, message: unknownMessage(to, names) });
      else {
        valid.push({ to, index });
        if (isLeader(components[to]) && !isLeader(spec)) {
          // A follower would wait forever for a component that only runs on the leader replica.
          problems.push({
            path,
            message: `${describeValue(to)} is a leader component, so ${describeValue(name)} must be one too (leader: true): elsewhere it would wait on a replica that is not the leader`,
          });
        }
      }
      seen.add(to);
    });
    edges.set(name, valid);
  }
  return [...problems, ...cycleProblems(names, edges)];
}

/** Each cycle is reported at the dependency that closes it, naming the whole cycle. */
function cycleProblems(
  names: readonly string[],
  edges: ReadonlyMap<string, readonly Edge[]>,
): GraphProblem[] {
  const graph = new Map(names.map((name) => [name, (edges.get(name) ?? []).map((edge) => edge.to)]));
  return findCycles(graph).map((cycle) => {
    const from = cycle.at(-2) ?? '';
    const index = edges.get(from)?.find((edge) => edge.to === cycle.at(-1))?.index ?? 0;
    return { path: ['components', from, 'dependsOn', index], message: describeCycle(cycle) };
  });
}

function unknownMessage(name: string, names: readonly string[]): string {
  const known = names.length <= 10 ? ` (components: ${names.map((n) => describeValue(n)).join(', ')})` : '';
  return `unknown component ${describeValue(name)}${known}`;
}

/** `leader: true`, or the string "true" that a `${VAR}` gives; the schema rejects anything else. */
function isLeader(spec: unknown): boolean {
  return isRecord(spec) && (spec.leader === true || spec.leader === 'true');
}
