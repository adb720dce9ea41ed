import { once } from 'node:events';
import type { Component, ComponentContext, ComponentOptions } from '../core/component.js';

export interface ScriptedOptions extends ComponentOptions {
  /** Ready as soon as it starts, instead of when the test calls `ready()`. @default false */
  readonly readyAtOnce?: boolean;
  /** Runs once the component is asked to stop; it finishes when this resolves. */
  readonly cleanup?: () => Promise<void>;
  /** Does not finish when asked to stop, only on `end()`: a component that hangs on shutdown. */
  readonly ignoreStop?: boolean;
}

/**
 * A component that a test drives by hand, for checking how a manager orders and stops things
 * without real services. It records `start:<name>`, `stopping:<name>` and `stop:<name>` in `log`
 * (share one log between components to see the order), becomes ready when the test calls
 * `ready()`, and finishes once its signal aborts (after `cleanup`) or when the test calls `end()`.
 * Each run is a fresh start: a restarted component logs `start:` again and counts `starts`.
 */
export class ScriptedComponent implements Component {
  readonly name: string;
  readonly dependsOn?: readonly string[];
  readonly leader?: boolean;
  readonly stopTimeout?: number;
  readonly oneShot?: boolean;
  /** The context of the latest run; undefined before the first. */
  ctx: ComponentContext | undefined;
  /** The signal of the latest run; undefined before the first. */
  signal: AbortSignal | undefined;
  starts = 0;
  readonly #log: string[];
  readonly #options: ScriptedOptions;
  #finish: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(name: string, log: string[] = [], options: ScriptedOptions = {}) {
    this.name = name;
    this.dependsOn = options.dependsOn;
    this.leader = options.leader;
    this.stopTimeout = options.stopTimeout;
    this.oneShot = options.oneShot;
    this.#log = log;
    this.#options = options;
  }

  async run(signal: AbortSignal, ctx: ComponentContext): Promise<void> {
    this.ctx = ctx;
    this.signal = signal;
    this.starts++;
    this.#log.push(`start:${this.name}`);
    if (this.#options.readyAtOnce) ctx.ready();
    const finished = new Promise<void>((resolve, reject) => {
      this.#finish = { resolve, reject };
    });
    if (!this.#options.ignoreStop) void this.#stopOnAbort(signal);
    await finished;
    this.#log.push(`stop:${this.name}`);
  }

  async #stopOnAbort(signal: AbortSignal): Promise<void> {
    if (!signal.aborted) await once(signal, 'abort');
    this.#log.push(`stopping:${this.name}`);
    await this.#options.cleanup?.();
    this.#finish?.resolve();
  }

  /** Marks the current run ready; does nothing before the first run. */
  ready(): void {
    this.ctx?.ready();
  }

  /** Ends the current run on its own: successfully, or failing with `error`. */
  end(error?: unknown): void {
    if (error === undefined) this.#finish?.resolve();
    else this.#finish?.reject(error);
  }
}
