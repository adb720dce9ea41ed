import type { Component, ComponentContext, DrainMode } from '../core/component.js';
import { WatchedSignal } from './watched-signal.js';

/** How an observed run settled: when (`performance.now()`), and whether it had been asked to stop by then. */
export interface Settled {
  readonly at: number;
  readonly asked: boolean;
}

/**
 * A user's component as {@link checkGraceful} runs it: the same name, stop timeout, leadership and
 * drain, run alone (without `dependsOn`, since its dependencies are not in the check's manager)
 * and as a long-running component (never `oneShot`). Its `run` gets a {@link WatchedSignal} that
 * aborts with the manager's signal and reason, and settles exactly as the user's `run`, so the
 * manager judges it as it would the component itself.
 */
export class ObservedComponent implements Component {
  readonly name: string;
  readonly stopTimeout: number | undefined;
  readonly leader: boolean | undefined;
  readonly drain: Component['drain'];
  readonly #component: Component;
  #signal: WatchedSignal | undefined;
  #settled: Settled | undefined;

  constructor(component: Component) {
    this.#component = component;
    this.name = component.name;
    this.stopTimeout = component.stopTimeout;
    this.leader = component.leader;
    if (component.drain) {
      this.drain = (signal: AbortSignal, ctx: ComponentContext, mode: DrainMode) =>
        component.drain?.(signal, ctx, mode) ?? Promise.resolve();
    }
  }

  /** How its run settled; `undefined` while it runs (or before it started). */
  settled(): Settled | undefined {
    return this.#settled;
  }

  /** Whether its run ever looked at its signal (see {@link WatchedSignal}). */
  get lookedAtSignal(): boolean {
    return this.#signal?.looked ?? false;
  }

  run(signal: AbortSignal, ctx: ComponentContext): Promise<void> {
    const watched = new WatchedSignal();
    this.#signal = watched;
    let stopAsked = false;
    signal.addEventListener(
      'abort',
      () => {
        stopAsked = true;
        watched.abort(signal.reason);
      },
      { once: true },
    );
    let running: Promise<void>;
    try {
      running = this.#component.run(watched.signal, ctx);
    } catch (error) {
      // A synchronous throw is a failure like a rejection, as the manager counts it.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      running = Promise.reject(error);
    }
    // Registered before the manager's own handlers, so `settled` is set when the manager sees it.
    const record = (): void => {
      this.#settled = { at: performance.now(), asked: stopAsked };
    };
    running.then(record, record);
    return running;
  }
}
