import type { StuckComponent } from './errors.js';

/**
 * Everything the runtime does is announced as a typed event. The core never prints; adapters
 * (pino logs, the CLI's live view, metrics) subscribe and render.
 *
 * These are the core's own events. The hub is open: components publish their own through
 * `ctx.emit` (a process component's `process.*` events, for instance), and every listener gets
 * them too. The package root assembles the union of all of Corral's events as `CorralEvent`.
 */
export type CoreEvent =
  /** `run` was called; the component is starting and not yet ready. */
  | { type: 'component.starting'; component: string; term?: number }
  | { type: 'component.ready'; component: string }
  /** A one-shot component finished successfully, or a component ended on its own with success. */
  | { type: 'component.completed'; component: string }
  | { type: 'component.failed'; component: string; error: unknown }
  | { type: 'component.draining'; component: string }
  | { type: 'component.drained'; component: string; durationMs: number; skipped: boolean }
  | { type: 'component.stopping'; component: string; reason: ComponentStopReason }
  /** The component has not finished `stopTimeoutMs` after it was asked to stop. */
  | { type: 'component.stop-timeout'; component: string; stoppingForMs: number; stopTimeoutMs: number }
  | { type: 'component.stopped'; component: string; durationMs: number }
  /**
   * The restart wrapper will run the component again after `delayMs`; one event per restart.
   * In a crash loop only some are meant for people (`announce`: the first few of an outage, then
   * one per interval); an announced one counts in `suppressed` the restarts since the previous
   * announced one that were not (0 on the others).
   */
  | {
      type: 'component.restarting';
      component: string;
      attempt: number;
      delayMs: number;
      error: unknown;
      announce: boolean;
      suppressed: number;
    }
  | { type: 'shutdown.started'; reason: StopReason }
  | { type: 'shutdown.phase'; phase: ShutdownPhase }
  /** The shutdown budget ran out; these components were still running. */
  | { type: 'shutdown.stuck'; timeoutMs: number; stuck: readonly StuckComponent[] }
  | { type: 'leader.elected'; term: number }
  | { type: 'leader.lost'; term: number }
  | WarningEvent;

/**
 * Something degraded but not fatal (no cgroup v2, no parent-death signal, an admin API that did
 * not answer). Open: any part of Corral, or a user's component, may raise one with a `code` of its own.
 */
export type WarningEvent = { type: 'warning'; code: string; message: string; component?: string };

/** Any event the hub carries: a `type` and its fields. */
export type AnyEvent = { readonly type: string; readonly [field: string]: unknown };

/** Why a component is being stopped. */
export type StopReason =
  | 'requested' // the run's signal aborted
  | 'failure' // another component failed
  | 'completed' // a component ended on its own, ending the run
  | 'term-ended'; // leadership was lost or given up

/**
 * Why one component is being stopped: the whole run's reason, or `operator` when it alone (with
 * what depends on it) was asked to stop while the rest runs on (`Manager.stopComponents`).
 */
export type ComponentStopReason = StopReason | 'operator';

/** Where the manager is in its life; `running` until the first stop request or failure. */
export type ShutdownPhase = 'running' | 'draining' | 'stopping' | 'stopped';

/**
 * A listener gets every event synchronously, stamped with the wall-clock `time` it was published;
 * it must not throw (a throwing listener is ignored). `Event` is the union it handles.
 */
export type EventListener<Event extends AnyEvent = CoreEvent> = (event: Event & { time: number }) => void;

/** A minimal fan-out of any event with a `type`. `on` returns the function that unsubscribes. */
export class EventHub {
  #listeners = new Set<EventListener<AnyEvent>>();

  on(listener: EventListener<AnyEvent>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: AnyEvent): void {
    const stamped = { ...event, time: Date.now() };
    for (const listener of this.#listeners) {
      try {
        listener(stamped);
      } catch {
        // A broken renderer must not break the lifecycle it observes.
      }
    }
  }
}
