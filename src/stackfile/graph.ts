import { describeValue, type PathSegments } from './issues.js';

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
  return [...problems, ...findCycles(names, edges)];
}

/**
 * Every back edge of a depth-first search closes a cycle; it is reported at that edge, naming the
 * whole cycle. Iterative, so a long chain of components cannot overflow the call stack.
 */
function findCycles(names: readonly string[], edges: ReadonlyMap<string, readonly Edge[]>): GraphProblem[] {
  const problems: GraphProblem[] = [];
  const state = new Map<string, 'active' | 'done'>();
  for (const root of names) {
    if (state.has(root)) continue;
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    state.set(root, 'active');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (frame === undefined) break;
      const out = edges.get(frame.name) ?? [];
      const edge = out[frame.next];
      if (edge === undefined) {
        state.set(frame.name, 'done');
        stack.pop();
        continue;
      }
      frame.next += 1;
      const seen = state.get(edge.to);
      if (seen === 'active') {
        const from = stack.findIndex((f) => f.name === edge.to);
        const cycle = [...stack.slice(from).map((f) => f.name), edge.to];
        problems.push({
          path: ['components', frame.name, 'dependsOn', edge.index],
          message: `dependency cycle: ${cycle.join(' -> ')}`,
        });
      } else if (seen === undefined) {
        state.set(edge.to, 'active');
        stack.push({ name: edge.to, next: 0 });
      }
    }
  }
  return problems;
}

function unknownMessage(name: string, names: readonly string[]): string {
  const known = names.length <= 10 ? ` (components: ${names.map((n) => describeValue(n)).join(', ')})` : '';
  return `unknown component ${describeValue(name)}${known}`;
}

/** `leader: true`, or the string "true" that a `${VAR}` gives; the schema rejects anything else. */
function isLeader(spec: unknown): boolean {
  return isRecord(spec) && (spec.leader === true || spec.leader === 'true');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
