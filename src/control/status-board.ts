import type { ComponentState, ComponentStatus } from '../core/entry.js';
import type { CorralEvent } from '../events.js';

/** How a component's last process ended. */
export interface LastExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Wall-clock time, ms since the epoch. */
  readonly time: number;
}

/** One row of `corral status`. Times are ms since the epoch. */
export interface StatusRow {
  readonly name: string;
  readonly state: ComponentState;
  /** The running process's pid; undefined when none runs (or the component is not a process). */
  readonly pid: number | undefined;
  /** When the running process started; undefined when none runs. */
  readonly startedAt: number | undefined;
  readonly restarts: number;
  /** Ready, or a one-shot step that finished successfully. */
  readonly ready: boolean;
  readonly lastExit: LastExit | undefined;
  /** The leadership term a leader component runs in. */
  readonly term: number | undefined;
  readonly oneShot: boolean;
}

/** What `corral status` answers: a row per component, and whether the whole stack is ready. */
export interface StatusReport {
  readonly ready: boolean;
  /** `running`, `draining`, `stopping` or `stopped`. */
  readonly phase: string;
  readonly components: readonly StatusRow[];
}

/** The events the board reads; others are ignored. */
export class StatusBoard {
  readonly #running = new Map<string, { pid: number; since: number }>();
  readonly #lastExit = new Map<string, LastExit>();
  /** Components whose current run finished successfully on its own (a one-shot step done). */
  readonly #completed = new Set<string>();

  /** Feeds it one of the run's events. */
  observe(e: CorralEvent & { readonly time: number }): void {
    switch (e.type) {
      case 'process.spawned':
        this.#running.set(e.component, { pid: e.pid, since: e.time });
        break;
      case 'process.exited':
        this.#running.delete(e.component);
        this.#lastExit.set(e.component, { exitCode: e.exitCode, signal: e.signal, time: e.time });
        break;
      case 'component.starting':
        this.#completed.delete(e.component);
        break;
      case 'component.completed':
        this.#completed.add(e.component);
        break;
    }
  }

  /** The rows for the core's `status`. */
  rows(statuses: readonly ComponentStatus[]): StatusRow[] {
    return statuses.map((s) => {
      const running = this.#running.get(s.name);
      return {
        name: s.name,
        state: s.state,
        pid: running?.pid,
        startedAt: running?.since,
        restarts: s.restarts,
        ready: s.state === 'ready' || (s.state === 'stopped' && this.#completed.has(s.name)),
        lastExit: this.#lastExit.get(s.name),
        term: s.term,
        oneShot: s.oneShot,
      };
    });
  }
}
