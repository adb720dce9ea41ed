import type { Component } from './component.js';
import type { StuckComponent } from './errors.js';

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

/** Whether a component in `state` is between `run` being called and its promise settling. */
export function isRunning(state: ComponentState): boolean {
  return state === 'starting' || state === 'ready' || state === 'restarting' || state === 'stopping';
}

/** How a run ended, as {@link Entry.settle} judges it. */
export type RunOutcome =
  /** It was asked to stop and finished, cleanly or by rejecting with the stop's own reason. */
  | 'stopped'
  /** It ended on its own, successfully. */
  | 'completed'
  /** It rejected (or threw) other than in answer to a stop. */
  | 'failed';

/**
 * The states of one run. `completed` is shown as `stopped`; it is kept apart because a finished
 * one-shot component is what its dependents wait for.
 */
type Phase = ComponentState | 'completed';

/**
 * One component's life in the manager, as a state machine whose transitions are its methods:
 *
 *     pending → starting ⇄ restarting → ready → stopping → stopped
 *                                              ↘ stopped (asked) | completed (on its own) | failed
 *
 * A run is counted: every transition caused by the component itself (`markReady`, `markRestarting`,
 * `settle`) names the run it comes from, and one from an earlier run changes nothing. A leader
 * component gets a fresh run per term after {@link reset}.
 *
 * The entry also keeps the count that orders the stop: an entry is busy while it runs, or while one
 * of its dependents is busy, so a component is held back from stopping by anything running above
 * it, however many finished one-shots or failed components lie in between. The count is kept
 * exact on every start and settle, travelling down the dependencies only as far as it changes
 * whether they are busy, so a whole start or stop costs time linear in the graph.
 */
export class Entry {
  readonly component: Component;
  /** Linked by the manager once the graph is known: what this depends on, and what depends on it. */
  readonly dependencies: Entry[] = [];
  readonly dependents: Entry[] = [];
  #phase: Phase = 'pending';
  /** Wall-clock time the current phase began, for `status()`. */
  #since = Date.now();
  /** The current run's number; a callback carrying another number is late. */
  #run = 0;
  /** Aborts the current run's signal. */
  #controller: AbortController | undefined;
  #term: number | undefined;
  #restarts = 0;
  /** How many direct dependents are busy; see the class doc. */
  #busyDependents = 0;
  /** Manager clock time of the stop request, for durations and stuck reports. */
  #stoppingSince = 0;
  /** The drain of the current run, once started: a run drains at most once. */
  #drain: Promise<void> | undefined;
  /** Manager clock time the drain began; undefined while not draining. */
  #drainingSince: number | undefined;
  /** Switched off by the operator: see {@link switchOff}. */
  #off: 'on' | 'draining' | 'held' = 'on';

  constructor(component: Component) {
    this.component = component;
  }

  get name(): string {
    return this.component.name;
  }

  get state(): ComponentState {
    return this.#phase === 'completed' ? 'stopped' : this.#phase;
  }

  /** Between `run` being called and its promise settling. */
  get running(): boolean {
    return isRunning(this.state);
  }

  get ready(): boolean {
    return this.#phase === 'ready';
  }

  /** The run ended on its own, successfully, in the current term (for good, outside leadership). */
  get completed(): boolean {
    return this.#phase === 'completed';
  }

  /** Running and not yet asked to stop. */
  get active(): boolean {
    return this.running && this.#phase !== 'stopping';
  }

  /** Running, not yet asked to stop, and nothing that depends on it is still busy. */
  get stoppable(): boolean {
    return this.active && this.#busyDependents === 0;
  }

  /** Running, or depended on (directly or through any chain) by something running. */
  get #busy(): boolean {
    return this.running || this.#busyDependents > 0;
  }

  /** The fencing token of the term the current run belongs to; undefined outside leadership. */
  get term(): number | undefined {
    return this.#term;
  }

  /**
   * Switched off by the operator (`Manager.stopComponents`): draining, stopping or stopped, and not
   * to be started again until switched on. Not a failure, but not ready either.
   */
  get switchedOff(): boolean {
    return this.#off !== 'on';
  }

  /** Switched off and done draining: to be asked to stop, if it runs. */
  get held(): boolean {
    return this.#off === 'held';
  }

  /** Switched off: from now on it is not started again, and may drain before it is held. */
  switchOff(): void {
    if (this.#off === 'on') this.#off = 'draining';
  }

  /** Switched off and drained: it is asked to stop now; one that never started shows as stopped. */
  hold(): void {
    this.#off = 'held';
    if (this.#phase === 'pending') this.#enter('stopped');
  }

  /** Switched on again, to start when its dependencies are ready. Call it only when not running. */
  switchOn(): void {
    this.#off = 'on';
    this.reset();
  }

  get stoppingSince(): number {
    return this.#stoppingSince;
  }

  /**
   * pending → starting: begins run number `run` (returned) whose signal is `signal`, in `term`.
   * Call it only on a pending entry.
   */
  start(term: number | undefined): { run: number; signal: AbortSignal } {
    this.#controller = new AbortController();
    this.#term = term;
    this.#setBusy(() => this.#enter('starting'));
    return { run: ++this.#run, signal: this.#controller.signal };
  }

  /** starting or restarting → ready. Returns whether it changed anything. */
  markReady(run: number): boolean {
    if (run !== this.#run || (this.#phase !== 'starting' && this.#phase !== 'restarting')) return false;
    this.#enter('ready');
    return true;
  }

  /** A restart wrapper is about to run the component again: counted, and `restarting` until ready. */
  markRestarting(run: number): boolean {
    if (run !== this.#run || !this.active) return false;
    this.#restarts++;
    this.#enter('restarting');
    return true;
  }

  /**
   * → stopping, at `now` on the manager's clock: `announce` runs once the entry is stopping, then
   * the run's signal aborts with `reason` (so the announcement comes before anything the abort
   * sets off). Returns the number of the run asked to stop. Call it only on an active entry.
   */
  requestStop(reason: unknown, now: number, announce: () => void): number {
    this.#stoppingSince = now;
    this.#enter('stopping');
    announce();
    this.#controller?.abort(reason);
    return this.#run;
  }

  /** Still stopping in run number `run`: the run was asked to stop and has not finished. */
  stillStopping(run: number): boolean {
    return run === this.#run && this.#phase === 'stopping';
  }

  /**
   * Run number `run` settled, rejecting with `failure.error` or resolving (`failure` undefined).
   * Returns how it ended, and the dependencies whose last busy dependent this was: they may stop
   * now. Returns undefined for a late settle of an earlier run.
   */
  settle(
    run: number,
    failure: { error: unknown } | undefined,
  ): { outcome: RunOutcome; freed: Entry[] } | undefined {
    if (run !== this.#run || !this.running) return undefined;
    const asked = this.#phase === 'stopping';
    let outcome: RunOutcome;
    if (failure && !(asked && isAbortOf(failure.error, this.#controller?.signal))) outcome = 'failed';
    else outcome = asked ? 'stopped' : 'completed';
    const freed = this.#setBusy(() => this.#enter(outcome));
    return { outcome, freed };
  }

  /**
   * Runs `drain` for the current run once (later calls share it), marked as draining meanwhile.
   * `now` is the manager clock's time.
   */
  drainOnce(now: number, drain: () => Promise<void>): Promise<void> {
    this.#drain ??= (async () => {
      this.#drainingSince = now;
      try {
        await drain();
      } finally {
        this.#drainingSince = undefined;
      }
    })();
    return this.#drain;
  }

  /**
   * A finished entry goes back to pending, to start again (in a new term, or switched on again);
   * a switched-off one stays stopped. Ignored while running.
   */
  reset(): void {
    if (this.running) return;
    this.#enter(this.#off === 'on' ? 'pending' : 'stopped');
    this.#controller = undefined;
    this.#drain = undefined;
    this.#term = undefined;
  }

  /**
   * What a running entry is doing while the shutdown waits for it; undefined once it finished.
   * Times are the manager clock's.
   */
  stuck(now: number, shutdownSince: number): StuckComponent | undefined {
    if (!this.running) return undefined;
    const component = this.name;
    if (this.#phase === 'stopping') return { component, phase: 'stopping', forMs: now - this.#stoppingSince };
    if (this.#drainingSince !== undefined) {
      return { component, phase: 'draining', forMs: now - this.#drainingSince };
    }
    // Still held back by a dependent that has not finished.
    return { component, phase: 'waiting', forMs: now - shutdownSince };
  }

  status(): ComponentStatus {
    return {
      name: this.name,
      state: this.state,
      since: this.#since,
      leader: this.component.leader ?? false,
      oneShot: this.component.oneShot ?? false,
      restarts: this.#restarts,
      term: this.#term,
    };
  }

  #enter(phase: Phase): void {
    this.#phase = phase;
    this.#since = Date.now();
  }

  /**
   * Makes a transition that may start or end the run, and keeps every entry's count of busy
   * dependents exact. Returns the dependencies whose last busy dependent has just finished.
   */
  #setBusy(transition: () => void): Entry[] {
    const freed: Entry[] = [];
    const wasBusy = this.#busy;
    transition();
    if (this.#busy === wasBusy) return freed;
    const changed: Entry[] = [this];
    for (let current = changed.pop(); current; current = changed.pop()) {
      const delta = current.#busy ? 1 : -1;
      for (const dependency of current.dependencies) {
        const dependencyWasBusy = dependency.#busy;
        dependency.#busyDependents += delta;
        if (dependency.#busyDependents === 0) freed.push(dependency);
        if (dependency.#busy !== dependencyWasBusy) changed.push(dependency);
      }
    }
    return freed;
  }
}

/** Rejecting with the stop's own reason (or an AbortError) after a requested stop is a clean stop. */
export function isAbortOf(error: unknown, signal: AbortSignal | undefined): boolean {
  if (!signal?.aborted) return false;
  return error === signal.reason || (error instanceof Error && error.name === 'AbortError');
}
