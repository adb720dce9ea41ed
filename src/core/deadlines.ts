import type { Clock } from './clock.js';

interface Deadline {
  readonly due: number;
  readonly onDue: () => void;
}

/**
 * Many deadlines on one timer. A shutdown arms a stop deadline for every component, often a
 * thousand at once; one clock sleep for the earliest of them (re-armed only when an earlier one
 * arrives) costs far less than a timer and an abort listener each.
 */
export class Deadlines {
  readonly #clock: Clock;
  readonly #signal: AbortSignal;
  /** Pending deadlines, sorted by `due` (insertion keeps it cheap: they mostly arrive in order). */
  readonly #pending: Deadline[] = [];
  /** The armed sleep: when it fires, and how to cancel it for an earlier deadline. */
  #armed: { due: number; cancel: AbortController } | undefined;

  /** All deadlines are dropped, and none fires, once `signal` aborts. */
  constructor(clock: Clock, signal: AbortSignal) {
    this.#clock = clock;
    this.#signal = signal;
  }

  /** Calls `onDue` after `ms`, unless the owner's signal aborted first. */
  after(ms: number, onDue: () => void): void {
    const deadline = { due: this.#clock.now() + ms, onDue };
    let i = this.#pending.length;
    while (i > 0 && (this.#pending[i - 1]?.due ?? 0) > deadline.due) i--;
    this.#pending.splice(i, 0, deadline);
    this.#arm();
  }

  #arm(): void {
    const next = this.#pending[0];
    if (!next || this.#signal.aborted) return;
    if (this.#armed && this.#armed.due <= next.due) return;
    this.#armed?.cancel.abort();
    const cancel = new AbortController();
    this.#armed = { due: next.due, cancel };
    this.#clock.sleep(next.due - this.#clock.now(), AbortSignal.any([cancel.signal, this.#signal])).then(
      () => {
        this.#armed = undefined;
        const now = this.#clock.now();
        while ((this.#pending[0]?.due ?? Infinity) <= now) this.#pending.shift()?.onDue();
        this.#arm();
      },
      () => undefined,
    );
  }
}
