import type { Clock } from './clock.js';
import type { AnyEvent } from './events.js';

/**
 * A component is an async function of a signal. `run` works until `signal` aborts, then cleans up
 * and resolves; it rejects when it fails. Its promise settles only when the component has completely
 * finished (children exited, sockets closed), which is what makes every component graceful: the
 * manager simply awaits every `run`.
 */
export interface Component {
  /** Unique within a manager; used in every event, error and metric. */
  readonly name: string;
  /** Names of components that must be ready (or, for one-shot ones, finished) before this starts. */
  readonly dependsOn?: readonly string[];
  /** Runs only while this replica is the elected leader; started anew in every term. */
  readonly leader?: boolean;
  /**
   * How long the component may take to finish after its signal aborts before the manager reports
   * it (a `component.stop-timeout` event). Process components also SIGKILL at this point.
   * @default 10_000
   */
  readonly stopTimeout?: number;
  /**
   * May finish successfully without ending the run, like an init step. Its dependents start when
   * it has finished successfully rather than when it is ready.
   * @default false
   */
  readonly oneShot?: boolean;
  /** Starts the component; see the interface doc for the contract. */
  run(signal: AbortSignal, ctx: ComponentContext): Promise<void>;
  /**
   * Optional: stop taking new work and let in-flight work finish, while still running. Called at
   * most once per run: at the start of a graceful shutdown (`before-stop`), before any component
   * is stopped, or on a drain-only request (`drain-only`: kuma-dp's drain-forever, after which
   * the component keeps running and a later shutdown does not drain it again). Resolves when
   * drained. `signal` aborts when the rest of the drain is to be skipped.
   */
  readonly drain?: (signal: AbortSignal, ctx: ComponentContext, mode: DrainMode) => Promise<void>;
}

/** Why a component is asked to drain; see {@link Component.drain}. */
export type DrainMode = 'before-stop' | 'drain-only';

/** What the manager hands a running component. */
export interface ComponentContext {
  /** The component's name, for wrappers that do not know it. */
  readonly name: string;
  /** Marks the component ready. Idempotent; safe after stop (then it does nothing). */
  ready(): void;
  /** The leadership term a `leader` component runs in; `undefined` for other components. */
  readonly term: LeadershipTerm | undefined;
  /** The manager's clock; wrappers take their delays from it. */
  readonly clock: Clock;
  /**
   * Publishes an event on the manager's hub: one of the core's (a wrapper's `component.restarting`,
   * a `warning`), or one of the component's own types (a process component's `process.*`).
   */
  emit(event: AnyEvent): void;
}

/** The part of a leadership term a component sees. */
export interface LeadershipTerm {
  /** Strictly greater than the token of every earlier term; pass it to storage that checks fences. */
  readonly token: number;
}

/** Options for {@link fromFunction}: every optional field of a component. */
export type ComponentOptions = Omit<Component, 'name' | 'run' | 'drain'>;

/**
 * Wraps a plain `async (signal) => …` function as a component that is ready as soon as it starts.
 * The function must still honour the contract: resolve only once it has fully finished.
 */
export function fromFunction(
  name: string,
  fn: (signal: AbortSignal, ctx: ComponentContext) => Promise<void>,
  options: ComponentOptions = {},
): Component {
  return {
    ...options,
    name,
    run(signal, ctx) {
      ctx.ready();
      return fn(signal, ctx);
    },
  };
}
