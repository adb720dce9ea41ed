import { describe, formatMs } from '../core/errors.js';
import type { CorralEvent } from '../events.js';
import { exitStatusOf } from '../process/terminate.js';

/** How one component's shutdown went, for the stop report. */
export interface ComponentStopReport {
  readonly component: string;
  /** Time spent draining, when it drained. */
  drainMs?: number;
  /** From the stop request to fully finished, when it was stopped. */
  stopMs?: number;
  /** `exit 0`, `SIGTERM`, `finished`, `failed: …`, `still running`, `never started`. */
  ended: string;
  /** Shell-style status of its process, when it had one. */
  exitStatus?: number;
  /** SIGKILL was needed. */
  forced: boolean;
}

/**
 * Collects, from the runtime's events, what the stop report says about each component: how long
 * draining and stopping took, how it ended, whether it was forced.
 */
export class StopReport {
  readonly #rows = new Map<string, ComponentStopReport>();
  #shutdownAt: number | undefined;

  constructor(components: readonly string[]) {
    for (const component of components)
      this.#rows.set(component, { component, ended: 'never started', forced: false });
  }

  observe(event: CorralEvent & { time: number }): void {
    if (event.type === 'shutdown.started') this.#shutdownAt ??= event.time;
    if (!('component' in event) || event.component === undefined) return;
    let row = this.#rows.get(event.component);
    // A component a reload added.
    if (!row && event.type === 'component.starting') {
      row = { component: event.component, ended: 'never started', forced: false };
      this.#rows.set(event.component, row);
    }
    if (!row) return;
    switch (event.type) {
      case 'component.starting':
        row.ended = 'still running';
        break;
      case 'component.drained':
        row.drainMs = event.durationMs;
        break;
      case 'component.stopped':
        row.stopMs = event.durationMs;
        if (row.ended === 'still running') row.ended = 'stopped';
        break;
      case 'component.completed':
        if (row.ended === 'still running') row.ended = 'finished';
        break;
      case 'component.failed':
        // A process's own ending (exit code, signal) says more than the error wrapping it.
        if (row.exitStatus === undefined) row.ended = `failed: ${describe(event.error)}`;
        break;
      case 'process.exited':
        row.exitStatus = exitStatusOf(event);
        row.forced = event.forced;
        row.ended = event.signal ?? `exit ${event.exitCode ?? '?'}`;
        break;
      default:
    }
  }

  /** Time from the first stop request to `now`, if a shutdown happened. */
  totalMs(now: number): number | undefined {
    return this.#shutdownAt === undefined ? undefined : now - this.#shutdownAt;
  }

  rows(): ComponentStopReport[] {
    return [...this.#rows.values()];
  }

  /** The report as an aligned table, one component per line, in the order given. */
  format(now = Date.now()): string {
    const header = ['component', 'drain', 'stop', 'ended', 'forced'];
    const lines = this.rows().map((r) => [
      r.component,
      r.drainMs === undefined ? '-' : formatMs(r.drainMs),
      r.stopMs === undefined ? '-' : formatMs(r.stopMs),
      r.ended,
      r.forced ? 'yes' : 'no',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
    const row = (cells: string[]): string =>
      `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
    const total = this.totalMs(now);
    return [
      `stop report${total === undefined ? '' : ` (shutdown took ${formatMs(total)})`}`,
      row(header),
      ...lines.map(row),
    ].join('\n');
  }
}
