import { AlwaysLeader, type LeaderElector, type Term } from './leadership.js';
import { systemClock, type Clock } from './clock.js';
import type { Component, ComponentContext, DrainMode } from './component.js';
import { Deadlines } from './deadlines.js';
import { withDependencies, withDependents } from './closure.js';
import { Entry, isAbortOf, type ComponentStatus } from './entry.js';
import {
  ComponentFailedError,
  describe,
  InvalidStackError,
  ShutdownTimeoutError,
  StopRequest,
  type ComponentFailure,
} from './errors.js';
import {
  EventHub,
  type AnyEvent,
  type ComponentStopReason,
  type CoreEvent,
  type EventListener,
  type ShutdownPhase,
  type StopReason,
} from './events.js';
import { validateGraph } from './graph.js';

export interface ManagerOptions {
  /** Decides when `leader` components run. @default new AlwaysLeader() */
  elector?: LeaderElector;
  /** @default systemClock */
  clock?: Clock;
  /** Budget for the whole shutdown, drain included, from the first stop request. @default 60_000 */
  shutdownTimeout?: number;
  /** `stopTimeout` for components that do not set one. @default 10_000 */
  defaultStopTimeout?: number;
}

/** The reason internal timers are cancelled with; a constant, since a DOMException per timer is costly. */
const FINISHED = Symbol('finished');

/** The pseudo-component a fatal leader-election error is reported under. */
const ELECTION = 'leader-election';

/** A condition someone awaits; `done` is re-checked on every state change and may throw to reject. */
interface Waiter {
  readonly done: () => boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Runs components as one unit. Policy lives here and only here: dependency order, failure
 * propagation, drain before stop, reverse-order stop, deadlines, readiness and leader gating. Each
 * component's own state, and the count that orders the stop, live in its {@link Entry}.
 *
 * Starting: a component starts once every dependency is ready (a one-shot dependency: finished
 * successfully); independent components start concurrently.
 * Stopping: a component is asked to stop only after every component that depends on it, directly
 * or through any chain, has finished, so the app stops before its proxy and the proxy before DNS,
 * even when the proxy in between has crashed or a one-shot step in between finished long ago.
 */
export class Manager {
  readonly #clock: Clock;
  readonly #elector: LeaderElector;
  readonly #shutdownTimeout: number;
  readonly #defaultStopTimeout: number;
  readonly #hub = new EventHub();
  /** Every added component by name, in the order added. */
  readonly #entries = new Map<string, Entry>();
  readonly #waiters = new Set<Waiter>();
  /** Aborted when `run` returns: cancels every deadline timer the manager armed. */
  readonly #finished = new AbortController();
  /** Stop-timeout reports, all on one timer; dropped when `run` returns. */
  readonly #deadlines: Deadlines;
  /** Aborted to cut the drain phase short (a second signal, or a failure during the drain). */
  readonly #skipDrain = new AbortController();
  /** Aborted when the stop phase begins: the elector stops campaigning. */
  readonly #electorStop = new AbortController();
  #started = false;
  /** What `run` rejected with before starting anything. */
  #invalid: InvalidStackError | undefined;
  /** Why the shutdown began; set once, never cleared. */
  #shutdown: StopReason | undefined;
  #phase: ShutdownPhase = 'running';
  /** A drain-only request (SIGUSR2) turned readiness off without stopping. */
  #drainOnly = false;
  #failure: ComponentFailure | undefined;
  readonly #laterFailures: ComponentFailure[] = [];
  #timedOut: ((error: ShutdownTimeoutError) => void) | undefined;
  /** The current leadership term; `ending` once its leader components are being stopped. */
  #term: { token: number; ending: boolean } | undefined;
  #electorRunning = false;
  /** How many entries are between `run` and its settling. */
  #running = 0;
  #updating = false;
  /** Entries to re-check on the next pass, or `all` after a change that concerns every entry. */
  #queued: Set<Entry> | 'all' = new Set();
  /** One stop reason object per cause, shared by every component (building an Error is not free). */
  readonly #stopRequests = new Map<ComponentStopReason, StopRequest>();

  constructor(options: ManagerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#elector = options.elector ?? new AlwaysLeader();
    this.#shutdownTimeout = options.shutdownTimeout ?? 60_000;
    this.#defaultStopTimeout = options.defaultStopTimeout ?? 10_000;
    this.#deadlines = new Deadlines(this.#clock, this.#finished.signal);
  }

  /**
   * Subscribes to every event on the manager's hub: the core's own, and whatever its components
   * publish (a process component's `process.*` events, for instance). `Event` is the union the
   * listener handles, the core's events by default; the package root's `CorralEvent` covers all
   * of Corral's. A listener ignores types it does not know. Returns the unsubscribe function;
   * safe at any time.
   */
  on<Event extends AnyEvent = CoreEvent>(listener: EventListener<Event>): () => void {
    return this.#hub.on(listener as EventListener<AnyEvent>);
  }

  /**
   * Adds a component. Before `run` it is only recorded (the graph is checked when `run` starts);
   * after `run` started it is checked at once and started when its dependencies are ready, and is
   * stopped and awaited like the others. Throws once the shutdown has begun.
   */
  add(component: Component): void {
    if (this.#entries.has(component.name)) {
      throw new InvalidStackError(
        'DUPLICATE_COMPONENT',
        `component \`${component.name}\` was added twice`,
        component.name,
      );
    }
    if (this.#shutdown) {
      throw new InvalidStackError(
        'MANAGER_STOPPED',
        `cannot add component \`${component.name}\`: the manager is shutting down`,
        component.name,
      );
    }
    if (this.#started) {
      validateGraph(new Map([...this.components(), [component.name, component]]));
    }
    const entry = new Entry(component);
    this.#entries.set(component.name, entry);
    if (this.#started) {
      this.#link(entry);
      if (component.leader) this.#startElector();
      this.#update();
    }
  }

  /** The added components by name, in the order added. */
  components(): Map<string, Component> {
    return new Map([...this.#entries].map(([name, entry]) => [name, entry.component]));
  }

  /**
   * Runs every component until `signal` aborts (a graceful shutdown: drain, then stop in reverse
   * order), a component fails, or a non-one-shot component ends on its own. Resolves when the stop
   * was requested or a component ended successfully, and every component has finished. Rejects
   * with {@link ComponentFailedError} naming the first failure (later ones are kept on it), with
   * {@link ShutdownTimeoutError} when the shutdown exceeds its budget (components still running
   * then are left to their own stop timeouts), or with {@link InvalidStackError} before anything
   * starts. Call it once.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new InvalidStackError('ALREADY_RUNNING', 'run() was already called');
    try {
      validateGraph(this.components());
    } catch (error) {
      if (error instanceof InvalidStackError) this.#invalid = error;
      this.#wake();
      throw error;
    }
    this.#started = true;
    for (const entry of this.#entries.values()) this.#link(entry);
    const timedOut = new Promise<never>((_, reject) => {
      this.#timedOut = reject;
    });
    const onAbort = (): void => this.#beginShutdown('requested');
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) this.#beginShutdown('requested');
      if ([...this.#entries.values()].some((e) => e.component.leader)) this.#startElector();
      this.#update();
      await Promise.race([this.#until(() => this.#allFinished()), timedOut]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#finished.abort(FINISHED);
    }
    this.#setPhase('stopped');
    if (this.#failure) throw new ComponentFailedError(this.#failure, this.#laterFailures);
  }

  /**
   * True when every component that should be running is ready (a finished one-shot counts as
   * ready) and no stop or drain is in progress. False before `run`; true for an empty manager.
   */
  ready(): boolean {
    if (!this.#started || this.#shutdown || this.#drainOnly) return false;
    return [...this.#entries.values()].every(
      (e) => !e.switchedOff && (!this.#shouldRun(e) || e.ready || e.completed),
    );
  }

  /**
   * Resolves the first time every component that should run is ready, as {@link ready} says: at
   * once if it is now, else when it becomes so. Rejects if the run ends first: with
   * {@link ComponentFailedError} when a component failed, with {@link StopRequest} when the run was
   * stopped or a component ended it, with what `run` rejected with when the graph is invalid, and
   * with `signal.reason` when `signal` aborts first. Safe before `run` (it waits for it).
   */
  whenReady(signal?: AbortSignal): Promise<void> {
    return this.#until(() => {
      if (this.ready()) return true;
      if (this.#invalid) throw this.#invalid;
      if (this.#failure) throw new ComponentFailedError(this.#failure);
      if (this.#shutdown) throw this.#stopRequest(this.#shutdown);
      return false;
    }, signal);
  }

  /** Each component's state with the time it entered it. */
  status(): ComponentStatus[] {
    return [...this.#entries.values()].map((e) => e.status());
  }

  /** `running`, then `draining` (graceful stops only), `stopping` and `stopped`. */
  phase(): ShutdownPhase {
    return this.#phase;
  }

  /** Whether {@link drain} has turned readiness off; it stays off for the rest of the run. */
  draining(): boolean {
    return this.#drainOnly;
  }

  /**
   * Starts draining every running component that can drain, without stopping anything, and turns
   * readiness off (kuma-dp's drain-forever for a preStop hook). Idempotent: each component drains
   * at most once per run, and a later shutdown does not drain it again. Resolves when all drained.
   */
  async drain(): Promise<void> {
    if (!this.#started || this.#shutdown) return;
    this.#drainOnly = true;
    await this.#drainAll('drain-only');
  }

  /**
   * Stops the named components and everything that depends on them, while the rest runs on: each
   * drainable one drains first, then they stop in reverse dependency order, each with its stop
   * timeout. They stay stopped (state `stopped`, not a failure; {@link ready} is false meanwhile)
   * until {@link startComponents}. Resolves once none of them runs. Throws
   * {@link InvalidStackError} (`UNKNOWN_COMPONENT`) for a name not added, changing nothing; does
   * nothing before `run` or once the shutdown has begun.
   */
  async stopComponents(names: readonly string[]): Promise<void> {
    const targets = withDependents(this.#lookup(names));
    if (!this.#started || this.#shutdown) return;
    await this.#switchOff(targets);
  }

  /**
   * Starts the named components again after {@link stopComponents}, with what they need (their
   * stopped dependencies) and what was stopped with them (their dependents), in dependency order.
   * Waits for any of them still stopping first. Resolves once every one of them is ready (a
   * one-shot: finished); rejects like {@link whenReady} when the run ends first. Throws
   * {@link InvalidStackError} for a name not added (`UNKNOWN_COMPONENT`), or once the shutdown
   * has begun (`MANAGER_STOPPED`).
   */
  async startComponents(names: readonly string[]): Promise<void> {
    const named = this.#lookup(names);
    this.#refuseAfterShutdown();
    const targets = [...withDependents(named), ...withDependencies(named)].filter((e) => e.switchedOff);
    await this.#switchOn(new Set(targets));
  }

  /**
   * {@link stopComponents} then {@link startComponents}: the named components and their
   * dependents stop in reverse order and start again in order; what they depend on keeps running.
   */
  async restartComponents(names: readonly string[]): Promise<void> {
    this.#refuseAfterShutdown();
    await this.stopComponents(names);
    await this.startComponents(names);
  }

  /**
   * Changes the running set of components: stops `remove` (by name) and everything depending on
   * them or on a component in `replace`, swaps each of `replace` for the component of the same
   * name, adds `add`, and starts what was stopped (unless it had been switched off before) and
   * what is new, in order. Everything else keeps running untouched. The resulting graph is
   * checked first: an unknown name or an invalid graph throws {@link InvalidStackError} and
   * changes nothing. Resolves once everything started is ready; rejects like {@link whenReady}
   * when the run ends first. Call it only after `run` started, one change at a time.
   */
  async reconfigure(change: {
    readonly remove?: readonly string[];
    readonly replace?: readonly Component[];
    readonly add?: readonly Component[];
  }): Promise<void> {
    this.#refuseAfterShutdown();
    const removed = this.#lookup(change.remove ?? []);
    const replaced = this.#lookup((change.replace ?? []).map((c) => c.name));
    const next = new Map(this.components());
    for (const entry of removed) next.delete(entry.name);
    for (const component of change.replace ?? []) next.set(component.name, component);
    for (const component of change.add ?? []) {
      if (this.#entries.has(component.name)) {
        throw new InvalidStackError(
          'DUPLICATE_COMPONENT',
          `component \`${component.name}\` was added twice`,
          component.name,
        );
      }
      next.set(component.name, component);
    }
    validateGraph(next);

    const affected = withDependents([...removed, ...replaced]);
    const keptOff = new Set([...affected].filter((e) => e.switchedOff));
    await this.#switchOff(affected);
    this.#refuseAfterShutdown();
    // Every entry whose links change is stopped now, so no count of busy dependents changes.
    const entries = new Set(this.#entries.values());
    this.#entries.clear();
    for (const entry of entries) {
      const component = next.get(entry.name);
      if (!component) continue;
      this.#entries.set(entry.name, component === entry.component ? entry : new Entry(component));
    }
    for (const component of change.add ?? []) this.#entries.set(component.name, new Entry(component));
    for (const entry of this.#entries.values()) {
      entry.dependencies.length = 0;
      entry.dependents.length = 0;
    }
    for (const entry of this.#entries.values()) this.#link(entry);
    const starting = new Set(
      [...this.#entries.values()].filter((e) => (affected.has(e) && !keptOff.has(e)) || !entries.has(e)),
    );
    if ([...starting].some((e) => e.component.leader)) this.#startElector();
    await this.#switchOn(starting);
  }

  /** Cuts whatever is left of the drain short and goes on to stopping (the second Ctrl-C). */
  skipDrain(): void {
    this.#skipDrain.abort();
  }

  /** The entries named, or {@link InvalidStackError} naming the first unknown one. */
  #lookup(names: readonly string[]): Entry[] {
    return names.map((name) => {
      const entry = this.#entries.get(name);
      if (!entry) {
        throw new InvalidStackError('UNKNOWN_COMPONENT', `there is no component \`${name}\``, name);
      }
      return entry;
    });
  }

  #refuseAfterShutdown(): void {
    if (!this.#started || this.#shutdown) {
      throw new InvalidStackError(
        'MANAGER_STOPPED',
        this.#started ? 'the manager is shutting down' : 'the manager is not running',
      );
    }
  }

  /**
   * Switches `targets` off: not started again, not ready; the drainable ones that run drain, then
   * all are asked to stop in reverse order by the pass. Resolves once none of them runs.
   */
  async #switchOff(targets: ReadonlySet<Entry>): Promise<void> {
    for (const entry of targets) entry.switchOff();
    this.#wake();
    const now = this.#clock.now();
    await Promise.all(
      [...targets]
        .filter((e) => e.active && e.component.drain)
        .map((e) => e.drainOnce(now, () => this.#drainOne(e, 'before-stop'))),
    );
    for (const entry of targets) entry.hold();
    this.#update(targets);
    await this.#until(() => [...targets].every((e) => !e.running));
  }

  /**
   * Switches `targets` on once none of them runs any more, and starts them as their dependencies
   * become ready. Resolves when all are ready (or finished one-shots), or when one is switched
   * off again meanwhile; rejects like {@link whenReady} when the run ends first.
   */
  async #switchOn(targets: ReadonlySet<Entry>): Promise<void> {
    await this.#until(() => [...targets].every((e) => !e.running));
    this.#refuseAfterShutdown();
    for (const entry of targets) entry.switchOn();
    this.#update(targets);
    await this.#until(() => {
      if ([...targets].every((e) => e.ready || e.completed || e.switchedOff)) return true;
      if (this.#failure) throw new ComponentFailedError(this.#failure);
      if (this.#shutdown) throw this.#stopRequest(this.#shutdown);
      return false;
    });
  }

  /**
   * Starts every component that is due and asks every component that is due to stop; then wakes
   * waiters. `affected` narrows the check to the entries a change can concern (a component that
   * became ready can only unblock its dependents), which keeps a 1,000-component stack linear.
   * Not re-entrant: a change made while updating (a component that marks itself ready inside
   * `run`) only queues another pass, so the stack never grows with the component count.
   */
  #update(affected?: Iterable<Entry>): void {
    if (affected === undefined || this.#queued === 'all') this.#queued = 'all';
    else for (const entry of affected) this.#queued.add(entry);
    if (this.#updating) return;
    this.#updating = true;
    try {
      // At least one pass, even with nothing to re-check: waiters must see every change.
      do {
        const entries = this.#queued === 'all' ? [...this.#entries.values()] : [...this.#queued];
        this.#queued = new Set();
        this.#pass(entries);
      } while (this.#hasQueued());
    } finally {
      this.#updating = false;
    }
  }

  /** A method, not an inline test: the pass may queue more, which narrowing would not see. */
  #hasQueued(): boolean {
    return this.#queued === 'all' || this.#queued.size > 0;
  }

  #pass(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (
        !this.#shutdown &&
        entry.state === 'pending' &&
        this.#shouldRun(entry) &&
        this.#dependenciesMet(entry)
      ) {
        this.#start(entry);
      }
      // Reverse order: nothing stops while something that depends on it is still running.
      if (entry.stoppable && this.#stopDue(entry)) this.#requestStop(entry);
    }
    this.#wake();
  }

  /** Settles every waiter whose condition now holds (or throws). */
  #wake(): void {
    for (const waiter of this.#waiters) {
      let done: boolean;
      try {
        done = waiter.done();
      } catch (error) {
        this.#waiters.delete(waiter);
        waiter.reject(error);
        continue;
      }
      if (done) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /**
   * Resolves once `done()` holds, rejects when it throws; both are re-checked on every state
   * change. Rejects with `signal.reason` when `signal` aborts first.
   */
  #until(done: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      try {
        if (done()) {
          resolve();
          return;
        }
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(error);
        return;
      }
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        reject(signal?.reason as Error);
      };
      const waiter: Waiter = {
        done,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Leader components run only during a term that is not ending; the others unless switched off. */
  #shouldRun(entry: Entry): boolean {
    if (entry.switchedOff) return false;
    return !entry.component.leader || (this.#term !== undefined && !this.#term.ending);
  }

  /** Resolves an entry's dependency names to entries, both ways; the graph was validated. */
  #link(entry: Entry): void {
    for (const name of entry.component.dependsOn ?? []) {
      const dependency = this.#entries.get(name);
      if (!dependency) continue;
      entry.dependencies.push(dependency);
      dependency.dependents.push(entry);
    }
  }

  #dependenciesMet(entry: Entry): boolean {
    // A one-shot dependency is an init step: its dependents wait for it to finish successfully.
    return entry.dependencies.every((dep) => (dep.component.oneShot ? dep.completed : dep.ready));
  }

  #stopDue(entry: Entry): boolean {
    return (
      this.#phase === 'stopping' ||
      entry.held ||
      (entry.component.leader === true && this.#term?.ending === true)
    );
  }

  #allFinished(): boolean {
    return this.#phase === 'stopping' && !this.#electorRunning && this.#running === 0;
  }

  #emit(event: CoreEvent): void {
    this.#hub.emit(event);
  }

  /** What a component gets while it runs or drains. */
  #context(entry: Entry, ready: () => void, emit: (event: AnyEvent) => void): ComponentContext {
    const { term } = entry;
    return {
      name: entry.name,
      term: term === undefined ? undefined : { token: term },
      clock: this.#clock,
      ready,
      emit,
    };
  }

  #start(entry: Entry): void {
    const { run, signal } = entry.start(entry.component.leader ? this.#term?.token : undefined);
    this.#running++;
    const { term } = entry;
    this.#emit({ type: 'component.starting', component: entry.name, ...(term !== undefined && { term }) });
    const ctx = this.#context(
      entry,
      () => this.#markReady(entry, run),
      (event) => this.#fromComponent(entry, run, event),
    );
    let running: Promise<void>;
    try {
      running = entry.component.run(signal, ctx);
    } catch (error) {
      // A synchronous throw from `run` is a failure like any rejection, reported as thrown.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      running = Promise.reject(error);
    }
    running.then(
      () => this.#settle(entry, run, undefined),
      (error: unknown) => this.#settle(entry, run, { error }),
    );
  }

  #markReady(entry: Entry, run: number): void {
    if (!entry.markReady(run)) return;
    this.#emit({ type: 'component.ready', component: entry.name });
    this.#update(entry.dependents);
  }

  /** Events a component publishes go out as they are; a restart also changes its state. */
  #fromComponent(entry: Entry, run: number, event: AnyEvent): void {
    if (event.type === 'component.restarting') entry.markRestarting(run);
    this.#hub.emit(event);
    this.#update([]);
  }

  #settle(entry: Entry, run: number, failure: { error: unknown } | undefined): void {
    const settled = entry.settle(run, failure);
    if (!settled) return;
    this.#running--;
    const component = entry.name;
    switch (settled.outcome) {
      case 'failed':
        this.#emit({ type: 'component.failed', component, error: failure?.error });
        // One the operator stopped failed in stopping (forced by SIGKILL, say): said, and it stays
        // stopped, but the rest of the stack was not asked to stop and runs on.
        if (!entry.held || this.#shutdown) this.#fail({ component, error: failure?.error });
        break;
      case 'stopped':
        this.#emit({
          type: 'component.stopped',
          component,
          durationMs: this.#clock.now() - entry.stoppingSince,
        });
        break;
      case 'completed':
        this.#emit({ type: 'component.completed', component });
        // A long-running component that ends on its own ends the run, successfully (as kuma-dp
        // does when Envoy exits 0); a one-shot one has merely finished its step.
        if (!entry.component.oneShot) this.#beginShutdown('completed');
        break;
    }
    // Its dependents may start (a finished one-shot); what it held back may now stop.
    this.#update([...entry.dependents, ...settled.freed]);
  }

  #fail(failure: ComponentFailure): void {
    if (this.#failure) this.#laterFailures.push(failure);
    else this.#failure = failure;
    this.#beginShutdown('failure');
  }

  #stopRequest(reason: ComponentStopReason): StopRequest {
    let request = this.#stopRequests.get(reason);
    if (!request) this.#stopRequests.set(reason, (request = new StopRequest(reason)));
    return request;
  }

  #requestStop(entry: Entry): void {
    const reason: ComponentStopReason = this.#shutdown ?? (entry.held ? 'operator' : 'term-ended');
    const run = entry.requestStop(this.#stopRequest(reason), this.#clock.now(), () =>
      this.#emit({ type: 'component.stopping', component: entry.name, reason }),
    );
    const stopTimeout = entry.component.stopTimeout ?? this.#defaultStopTimeout;
    // Report, don't kill: the component owns its forced stop (a process component SIGKILLs here).
    this.#deadlines.after(stopTimeout, () => {
      if (!entry.stillStopping(run)) return;
      this.#emit({
        type: 'component.stop-timeout',
        component: entry.name,
        stoppingForMs: this.#clock.now() - entry.stoppingSince,
        stopTimeoutMs: stopTimeout,
      });
    });
  }

  #beginShutdown(reason: StopReason): void {
    if (this.#shutdown) {
      // A failure during the drain makes the rest of the drain pointless.
      if (reason === 'failure') this.#skipDrain.abort();
      return;
    }
    this.#shutdown = reason;
    this.#emit({ type: 'shutdown.started', reason });
    this.#armShutdownDeadline();
    // Only a requested stop drains: after a failure or a component's exit the stack is already broken.
    if (reason === 'requested' && [...this.#entries.values()].some((e) => e.running && e.component.drain)) {
      this.#setPhase('draining');
      void this.#drainAll('before-stop').then(() => this.#beginStopping());
    } else {
      this.#beginStopping();
    }
    this.#update();
  }

  #beginStopping(): void {
    this.#setPhase('stopping');
    this.#electorStop.abort();
    this.#update();
  }

  #setPhase(phase: ShutdownPhase): void {
    if (this.#phase === phase) return;
    this.#phase = phase;
    this.#emit({ type: 'shutdown.phase', phase });
  }

  /** Drains every running drainable component (each once), concurrently; resolves when all did or the drain is skipped. */
  async #drainAll(mode: DrainMode): Promise<void> {
    const drains = [...this.#entries.values()]
      .filter((e) => e.active && e.component.drain)
      .map((e) => e.drainOnce(this.#clock.now(), () => this.#drainOne(e, mode)));
    const skipped = new Promise<void>((resolve) => {
      if (this.#skipDrain.signal.aborted) resolve();
      this.#skipDrain.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([Promise.all(drains), skipped]);
  }

  async #drainOne(entry: Entry, mode: DrainMode): Promise<void> {
    const startedAt = this.#clock.now();
    this.#emit({ type: 'component.draining', component: entry.name });
    const ctx = this.#context(
      entry,
      () => undefined,
      (event) => this.#hub.emit(event),
    );
    try {
      await entry.component.drain?.(this.#skipDrain.signal, ctx, mode);
    } catch (error) {
      // A drain that fails must not block the stop; the stop itself is what matters.
      if (!isAbortOf(error, this.#skipDrain.signal)) {
        this.#emit({
          type: 'warning',
          code: 'DRAIN_FAILED',
          component: entry.name,
          message: `drain of component \`${entry.name}\` failed: ${describe(error)}`,
        });
      }
    } finally {
      this.#emit({
        type: 'component.drained',
        component: entry.name,
        durationMs: this.#clock.now() - startedAt,
        skipped: this.#skipDrain.signal.aborted,
      });
    }
  }

  #armShutdownDeadline(): void {
    const shutdownSince = this.#clock.now();
    this.#clock.sleep(this.#shutdownTimeout, this.#finished.signal).then(
      () => {
        const now = this.#clock.now();
        const stuck = [...this.#entries.values()].flatMap((e) => e.stuck(now, shutdownSince) ?? []);
        this.#emit({ type: 'shutdown.stuck', timeoutMs: this.#shutdownTimeout, stuck });
        const failure = this.#failure && new ComponentFailedError(this.#failure, this.#laterFailures);
        this.#timedOut?.(new ShutdownTimeoutError(this.#shutdownTimeout, stuck, failure));
      },
      () => undefined,
    );
  }

  /**
   * Runs the elector once leader components exist. Each term: start the leader components with
   * the term's token, keep them until the term or the run ends, then stop them in reverse order
   * and await them before handing leadership back, so terms never overlap inside this process.
   */
  #startElector(): void {
    if (this.#electorRunning || this.#electorStop.signal.aborted) return;
    this.#electorRunning = true;
    this.#elector
      .run(this.#electorStop.signal, (term) => this.#lead(term))
      .catch((error: unknown) => this.#fail({ component: ELECTION, error }))
      .finally(() => {
        this.#electorRunning = false;
        this.#update();
      });
  }

  async #lead(term: Term): Promise<void> {
    if (this.#shutdown) return;
    const leaders = [...this.#entries.values()].filter((e) => e.component.leader);
    for (const entry of leaders) entry.reset();
    this.#term = { token: term.token, ending: false };
    this.#emit({ type: 'leader.elected', term: term.token });
    const onLost = (): void => this.#update();
    term.signal.addEventListener('abort', onLost, { once: true });
    this.#update();
    await this.#until(() => term.signal.aborted || this.#phase === 'stopping');
    term.signal.removeEventListener('abort', onLost);
    this.#term.ending = true;
    this.#update();
    await this.#until(() => [...this.#entries.values()].every((e) => !e.component.leader || !e.running));
    this.#term = undefined;
    this.#emit({ type: 'leader.lost', term: term.token });
    this.#update();
  }
}
