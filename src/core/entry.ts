import type { Component } from './component.js';

/** Where a component is in its life, as `Manager.status()` reports it. */
export type ComponentState =
  'pending' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed' | 'restarting';

/** A snapshot of one component for `Manager.status()`; times are epoch milliseconds. */
export interface ComponentStatus {
  readonly name: string;
  readonly state: ComponentState;
  /** When the component entered `state`. */
  readonly since: number;
  readonly leader: boolean;
  readonly oneShot: boolean;
  /** How many times the restart wrapper restarted it. */
  readonly restarts: number;
  /** The fencing token of the term it runs in, for leader components. */
  readonly term: number | undefined;
}

/**
 * The manager's book-keeping for one component. A leader component gets a fresh run per term;
 * `runId` tells a late callback from an earlier run apart from the current one.
 */
export class Entry {
  readonly component: Component;
  state: ComponentState = 'pending';
  since = Date.now();
  runId = 0;
  /** Aborts the current run's signal; undefined while not running. */
  controller: AbortController | undefined;
  /** Between `run` being called and its promise settling; written only by the manager's `#setRunning`. */
  running = false;
  /**
   * How many direct dependents are busy. An entry is busy while it runs, or while one of its
   * dependents is busy: so a component is held back from stopping by anything running above it,
   * however many finished one-shots or failed components lie in between.
   */
  busyDependents = 0;
  /** The current run was asked to stop (its signal aborted). */
  stopRequested = false;
  /** Manager clock time when the stop was requested, for stuck reports. */
  stoppingSince = 0;
  /** A one-shot component finished successfully in the current term (or for good). */
  completed = false;
  /** The drain started for the current run, if any; drains run at most once per run. */
  drain: Promise<void> | undefined;
  drainingSince = 0;
  draining = false;
  restarts = 0;
  term: number | undefined;
  /** Resolved when `run` starts: the entries this one depends on, and those depending on it. */
  dependencies: Entry[] = [];
  dependents: Entry[] = [];

  constructor(component: Component) {
    this.component = component;
  }

  get name(): string {
    return this.component.name;
  }

  /** Running, or depended on (directly or through any chain) by something running. */
  get busy(): boolean {
    return this.running || this.busyDependents > 0;
  }

  set(state: ComponentState): void {
    this.state = state;
    this.since = Date.now();
  }

  /** Forgets the previous run so a leader component can start again in a new term. */
  reset(): void {
    this.set('pending');
    this.controller = undefined;
    this.stopRequested = false;
    this.completed = false;
    this.drain = undefined;
    this.draining = false;
    this.term = undefined;
  }

  status(): ComponentStatus {
    return {
      name: this.name,
      state: this.state,
      since: this.since,
      leader: this.component.leader ?? false,
      oneShot: this.component.oneShot ?? false,
      restarts: this.restarts,
      term: this.term,
    };
  }
}
