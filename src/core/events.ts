import type { StuckComponent } from './errors.js';

/**
 * Everything the runtime does is announced as a typed event. The core never prints; adapters
 * (pino logs, the CLI's live view, metrics) subscribe and render.
 */
export type CorralEvent =
  /** `run` was called; the component is starting and not yet ready. */
  | { type: 'component.starting'; component: string; term?: number }
  | { type: 'component.ready'; component: string }
  /** A one-shot component finished successfully, or a component ended on its own with success. */
  | { type: 'component.completed'; component: string }
  | { type: 'component.failed'; component: string; error: unknown }
  | { type: 'component.draining'; component: string }
  | { type: 'component.drained'; component: string; durationMs: number; skipped: boolean }
  | { type: 'component.stopping'; component: string; reason: StopReason }
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
  /** A process component's child started. */
  | { type: 'process.spawned'; component: string; pid: number; command: readonly string[] }
  /** A process component's process group is empty; how the direct child ended. */
  | {
      type: 'process.exited';
      component: string;
      pid: number;
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      forced: boolean;
      stopDurationMs: number | undefined;
    }
  /**
   * Output of `component` (`undefined`: Corral's own lines) that `destination` (a file's path, or
   * `stdout`) did not take, a full disk for instance: the first lines of an outage. Later lines
   * are tried again one write at a time, and counted while they fail.
   */
  | { type: 'output.dropping'; component: string | undefined; destination: string; error: unknown }
  /**
   * How many lines of `component` were lost during an outage of `destination`: reported when
   * writing works again (`resumed`), or when Corral stops while it still does not.
   */
  | {
      type: 'output.dropped';
      component: string | undefined;
      destination: string;
      lines: number;
      resumed: boolean;
    }
  | { type: 'shutdown.started'; reason: StopReason }
  | { type: 'shutdown.phase'; phase: ShutdownPhase }
  /** The shutdown budget ran out; these components were still running. */
  | { type: 'shutdown.stuck'; timeoutMs: number; stuck: readonly StuckComponent[] }
  | { type: 'leader.elected'; term: number }
  | { type: 'leader.lost'; term: number }
  /** Something degraded but not fatal (no cgroup v2, no parent-death signal, an admin API that did not answer). */
  | { type: 'warning'; code: string; message: string; component?: string };

export type CorralEventType = CorralEvent['type'];

/** Why a component is being stopped. */
export type StopReason =
  | 'requested' // the run's signal aborted
  | 'failure' // another component failed
  | 'completed' // a component ended on its own, ending the run
  | 'term-ended'; // leadership was lost or given up

/** Where the manager is in its life; `running` until the first stop request or failure. */
export type ShutdownPhase = 'running' | 'draining' | 'stopping' | 'stopped';

/** A listener gets every event synchronously; it must not throw (a throwing listener is ignored). */
export type EventListener = (event: CorralEvent & { time: number }) => void;

/** A minimal typed fan-out. `on` returns the function that unsubscribes. */
export class EventHub {
  #listeners = new Set<EventListener>();

  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: CorralEvent): void {
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
