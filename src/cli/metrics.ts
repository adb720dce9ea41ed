import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CorralEvent } from '../events.js';
import type { Manager } from '../core/manager.js';
import { isRunning } from '../core/entry.js';
import type { OutputSink } from '../output/forward.js';
import { exitStatusOf } from '../process/terminate.js';

const PHASES = ['running', 'draining', 'stopping', 'stopped'] as const;

/**
 * Prometheus metrics for one `corral run`, fed from the runtime's events and its status. Labels
 * are component names only: never commands, environment values or URLs, which may hold secrets.
 */
export function createMetrics(
  manager: Manager,
  options: {
    alwaysLeader: boolean;
    /** Every output sink of the run, for the count of lines they dropped. */
    sinks: () => readonly OutputSink[];
  },
): {
  registry: Registry;
  observe: (event: CorralEvent) => void;
} {
  const registry = new Registry();
  const perComponent = { labelNames: ['component'], registers: [registry] };
  new Gauge({
    name: 'corral_component_up',
    help: '1 while the component is running (started and not finished).',
    ...perComponent,
    collect() {
      for (const s of manager.status()) this.set({ component: s.name }, isRunning(s.state) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'corral_component_ready',
    help: '1 while the component is ready.',
    ...perComponent,
    collect() {
      for (const s of manager.status()) this.set({ component: s.name }, s.state === 'ready' ? 1 : 0);
    },
  });
  const restarts = new Counter({
    name: 'corral_component_restarts_total',
    help: 'How many times the component was restarted.',
    ...perComponent,
  });
  new Counter({
    name: 'corral_output_dropped_lines_total',
    help: "Lines of the component's output that its destination did not take (a file on a full disk).",
    ...perComponent,
    collect() {
      // The sinks keep exact totals; the counter is set from them at each scrape.
      const totals = new Map(manager.status().map((s) => [s.name, 0]));
      for (const sink of new Set(options.sinks())) {
        for (const [component, lines] of sink.droppedLines()) {
          if (totals.has(component)) totals.set(component, (totals.get(component) ?? 0) + lines);
        }
      }
      this.reset();
      for (const [component, lines] of totals) this.inc({ component }, lines);
    },
  });
  const exitCode = new Gauge({
    name: 'corral_component_last_exit_code',
    help: "The last exit status of the component's process, shell-style (128+n when killed by signal n).",
    ...perComponent,
  });
  const stopDuration = new Histogram({
    name: 'corral_component_stop_duration_seconds',
    help: 'From the stop request to the component having completely finished.',
    ...perComponent,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  new Gauge({
    name: 'corral_shutdown_phase',
    help: 'The current shutdown phase: 1 for the phase Corral is in, 0 for the others.',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const current = manager.phase();
      for (const phase of PHASES) this.set({ phase }, phase === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'corral_ready',
    help: '1 when every component is ready and no shutdown or drain is in progress (what /ready says).',
    registers: [registry],
    collect() {
      this.set(manager.ready() ? 1 : 0);
    },
  });
  const leader = new Gauge({
    name: 'corral_leader',
    help: '1 while this replica is the elected leader.',
    registers: [registry],
  });
  const term = new Gauge({
    name: 'corral_leader_term',
    help: 'The fencing token of the current (or last) leadership term of this replica.',
    registers: [registry],
  });
  // Without an election this instance is the leader for good, in term 1 (the embedded default).
  leader.set(options.alwaysLeader ? 1 : 0);
  term.set(options.alwaysLeader ? 1 : 0);

  const observe = (event: CorralEvent): void => {
    switch (event.type) {
      case 'component.starting':
        // Present from the start, so that rate() sees the first restart.
        restarts.inc({ component: event.component }, 0);
        break;
      case 'component.restarting':
        restarts.inc({ component: event.component });
        break;
      case 'process.exited':
        exitCode.set({ component: event.component }, exitStatusOf(event));
        break;
      case 'component.stopped':
        stopDuration.observe({ component: event.component }, event.durationMs / 1000);
        break;
      case 'leader.elected':
        leader.set(1);
        term.set(event.term);
        break;
      case 'leader.lost':
        leader.set(0);
        break;
      default:
    }
  };
  return { registry, observe };
}
