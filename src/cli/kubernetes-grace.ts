import { formatMs } from '../core/errors.js';
import type { ComponentSpec, Stack } from '../stackfile/schema.js';

/** What Kubernetes gives a terminating pod, for {@link checkKubernetesGrace}. */
export interface KubernetesGrace {
  /** The pod's `terminationGracePeriodSeconds`, in milliseconds. */
  readonly graceMs: number;
  /** How long the container's preStop hook runs: the kubelet sends SIGTERM once it has finished. @default 0 */
  readonly preStopMs?: number;
}

export interface GraceVerdict {
  /** Whether preStop + `shutdown.timeout` ends before the kubelet's SIGKILL. */
  readonly fits: boolean;
  /** The worst-case timeline and the verdict, as `corral check` prints them. */
  readonly text: string;
}

/** One drain or stop of the worst-case shutdown, in milliseconds from the pod's deletion. */
interface Step {
  readonly component: string;
  readonly kind: 'drain' | 'stop';
  readonly start: number;
  readonly end: number;
}

/**
 * Whether the stack's shutdown fits a Kubernetes grace period. The grace counts from the pod's
 * deletion: the preStop hook runs first, SIGTERM follows when it has finished, and the kubelet
 * SIGKILLs the container when the grace is over. The verdict asks that Corral's own last resort,
 * `shutdown.timeout` after SIGTERM, come strictly before the kubelet's: then Corral, not the
 * kubelet, decides what is killed, and its stop report says so.
 *
 * The timeline shown is the worst case the stack file allows: every drain lasts its `timeout`
 * (drains run concurrently, from SIGTERM, even when the preStop hook started them earlier, which
 * only makes it shorter), then each component stops once everything that depends on it has
 * stopped, and lasts its `stopTimeout`. What would end after the kubelet's SIGKILL, or after
 * `shutdown.timeout`, is named as cut.
 */
export function checkKubernetesGrace(stack: Stack, grace: KubernetesGrace): GraceVerdict {
  const preStop = grace.preStopMs ?? 0;
  const kubelet = grace.graceMs;
  const budgetEnd = preStop + stack.shutdown.timeout;
  const steps = worstCase(stack.components, preStop);
  const row = (time: string, text: string): string => `  ${time.padEnd(14)} ${text}`;
  const timeline: [number, string][] = [
    ...steps.map((s): [number, string] => [
      s.start,
      row(
        `${formatMs(s.start)}..${formatMs(s.end)}`,
        `${s.kind} ${s.component} (at most ${formatMs(s.end - s.start)})`,
      ),
    ]),
    [
      budgetEnd,
      row(
        formatMs(budgetEnd),
        `shutdown.timeout (${formatMs(stack.shutdown.timeout)}) after SIGTERM: Corral kills whatever is left and exits`,
      ),
    ],
    [kubelet, row(formatMs(kubelet), 'the grace period is over: the kubelet SIGKILLs the container')],
  ];
  const lines = [
    '',
    `kubernetes: grace period ${formatMs(kubelet)}, preStop hook ${formatMs(preStop)} (worst case; times from the pod's deletion):`,
    preStop > 0
      ? row(`${formatMs(0)}..${formatMs(preStop)}`, 'the preStop hook, then SIGTERM')
      : row(formatMs(0), 'SIGTERM'),
    // A stable sort: equal times keep the order above (drains, stops in stop order, the deadlines).
    ...timeline.sort((a, b) => a[0] - b[0]).map(([, line]) => line),
  ];

  const fits = budgetEnd < kubelet;
  const total = `preStop ${formatMs(preStop)} + shutdown.timeout ${formatMs(stack.shutdown.timeout)} = ${formatMs(budgetEnd)}`;
  if (fits) {
    lines.push(
      `fits: ${total}, before the ${formatMs(kubelet)} grace period ends (${formatMs(kubelet - budgetEnd)} to spare)`,
    );
  } else {
    lines.push(`does not fit: ${total}, not before the ${formatMs(kubelet)} grace period ends`);
    const cut = cutAt(steps, kubelet);
    lines.push(
      ...(cut.length > 0
        ? ['  the kubelet would SIGKILL, with no stop report:', ...cut]
        : [
            `  every drain and stop timeout ends by ${formatMs(Math.max(preStop, ...steps.map((s) => s.end)))}, but a component that overran them would be SIGKILLed by the kubelet, with no stop report`,
          ]),
      `  fix: shutdown.timeout below ${formatMs(Math.max(0, kubelet - preStop))}, or terminationGracePeriodSeconds: ${Math.floor(budgetEnd / 1000) + 1}`,
    );
  }
  const budgetCut = cutAt(steps, budgetEnd);
  // When it does not fit, the kubelet's SIGKILL comes first: what the budget would cut is moot.
  if (fits && budgetCut.length > 0) {
    lines.push('shutdown.timeout cuts (Corral kills them, and its stop report names them):', ...budgetCut);
  }
  lines.push('');
  return { fits, text: lines.join('\n') };
}

/** The worst-case drains and stops, from SIGTERM at `sigterm`, in the order they begin. */
function worstCase(components: readonly ComponentSpec[], sigterm: number): Step[] {
  const drains: Step[] = components.flatMap((c) =>
    'drain' in c && c.drain
      ? [{ component: c.name, kind: 'drain' as const, start: sigterm, end: sigterm + c.drain.timeout }]
      : [],
  );
  // The stop phase begins once every drain has ended.
  const stopsFrom = Math.max(sigterm, ...drains.map((d) => d.end));
  const dependents = new Map<string, string[]>(components.map((c) => [c.name, []]));
  for (const c of components) for (const d of c.dependsOn) dependents.get(d)?.push(c.name);
  const byName = new Map(components.map((c) => [c.name, c]));
  const stops = new Map<string, Step>();
  // A component stops only after everything that depends on it has stopped (the graph was
  // validated acyclic, so the recursion ends).
  const stop = (name: string): Step => {
    const known = stops.get(name);
    if (known) return known;
    const start = Math.max(stopsFrom, ...(dependents.get(name) ?? []).map((d) => stop(d).end));
    const step: Step = {
      component: name,
      kind: 'stop',
      start,
      end: start + (byName.get(name)?.stopTimeout ?? 0),
    };
    stops.set(name, step);
    return step;
  };
  for (const c of components) stop(c.name);
  return [...drains, ...[...stops.values()].sort((a, b) => a.start - b.start)];
}

/** What of `steps` would still be running at `at`, one line each. */
function cutAt(steps: readonly Step[], at: number): string[] {
  return (
    steps
      // A tie is lost: both deadlines fire at the same instant, and the kill may come first.
      .filter((s) => s.end >= at)
      .map((s) =>
        s.start >= at
          ? `    ${s.component}: its ${s.kind} would not have begun (due at ${formatMs(s.start)})`
          : `    ${s.component}: ${formatMs(at - s.start)} into its ${s.kind} of at most ${formatMs(s.end - s.start)}`,
      )
  );
}
