import type { Component, ComponentContext, ComponentOptions } from '../../src/core/component.js';
import type { CorralEvent } from '../../src/events.js';
import type { Manager } from '../../src/core/manager.js';

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * A component the test drives by hand: it records `start:<name>` / `stop:<name>` in `log`,
 * becomes ready when the test calls `ready()` (or at once with `readyAtOnce`), and finishes when
 * its signal aborts, after `cleanup` (if any) resolves. `fail(error)` makes it reject.
 */
export class Scripted implements Component {
  readonly name: string;
  readonly dependsOn?: readonly string[];
  readonly leader?: boolean;
  readonly stopTimeout?: number;
  readonly oneShot?: boolean;
  ctx: ComponentContext | undefined;
  signal: AbortSignal | undefined;
  starts = 0;
  #finish: { resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(
    name: string,
    private readonly log: string[],
    options: ComponentOptions & {
      readyAtOnce?: boolean;
      cleanup?: () => Promise<void>;
      ignoreStop?: boolean;
    } = {},
  ) {
    this.name = name;
    this.dependsOn = options.dependsOn;
    this.leader = options.leader;
    this.stopTimeout = options.stopTimeout;
    this.oneShot = options.oneShot;
    this.options = options;
  }

  private readonly options: { readyAtOnce?: boolean; cleanup?: () => Promise<void>; ignoreStop?: boolean };

  async run(signal: AbortSignal, ctx: ComponentContext): Promise<void> {
    this.ctx = ctx;
    this.signal = signal;
    this.starts++;
    this.log.push(`start:${this.name}`);
    if (this.options.readyAtOnce) ctx.ready();
    const finished = new Promise<void>((resolve, reject) => {
      this.#finish = { resolve, reject };
    });
    if (!this.options.ignoreStop) {
      void aborted(signal).then(async () => {
        this.log.push(`stopping:${this.name}`);
        await this.options.cleanup?.();
        this.#finish?.resolve();
      });
    }
    await finished;
    this.log.push(`stop:${this.name}`);
  }

  ready(): void {
    this.ctx?.ready();
  }

  /** Ends the run on its own: successfully, or with `error`. */
  end(error?: unknown): void {
    if (error === undefined) this.#finish?.resolve();
    else this.#finish?.reject(error);
  }
}

/** Collects every event a manager emits. */
export function record(manager: Manager): CorralEvent[] {
  const events: CorralEvent[] = [];
  manager.on((event) => events.push(event));
  return events;
}

/** Resolves when `predicate` holds, checking after each macrotask; fails after `ms` of wall time. */
export async function eventually(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms}ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
