import type { Clock } from '../core/clock.js';
import { afterTurns } from './event-loop.js';

interface PendingSleep {
  readonly due: number;
  readonly seq: number;
  readonly fire: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due sleeps in time order and lets
 * the promise chains they wake run before moving on, so code that sleeps in a loop sees every
 * step. Meant for tests; safe to share between components.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  /** Pending sleeps; each entry is removed when it fires or its signal aborts. */
  #pending = new Set<PendingSleep>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const entry: PendingSleep = {
        due: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#pending.delete(entry);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(entry);
    });
  }

  /** Number of sleeps waiting to fire; lets a test wait until code under test is parked. */
  get pendingSleeps(): number {
    return this.#pending.size;
  }

  /** Moves time forward by `ms`, firing due sleeps in order; resolves once woken code has settled. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await afterTurns();
    for (;;) {
      const next = [...this.#pending]
        .filter((p) => p.due <= target)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.#pending.delete(next);
      this.#now = Math.max(this.#now, next.due);
      next.fire();
      await afterTurns();
    }
    this.#now = target;
    await afterTurns();
  }
}
