import { writeSync } from 'node:fs';
import type { EventObserver, ShownEvent } from './funnel.js';
import type { Renderer } from './render.js';

const OUTPUT_LOST =
  "corral: the shutdown budget ran out before Corral's output was read; the rest of it is lost\n";

/**
 * The wait for Corral's own output at the end of a run. A reader that stopped reading must not keep
 * Corral from exiting for ever, so the shutdown budget bounds this wait too: it counts from the
 * moment the shutdown began (`shutdown.started`), or from the end of the run when it never did.
 */
export class OutputDeadline implements EventObserver {
  readonly #budgetMs: number;
  #shutdownAt: number | undefined;

  constructor(budgetMs: number) {
    this.#budgetMs = budgetMs;
  }

  observe(event: ShownEvent): void {
    if (event.type === 'shutdown.started') this.#shutdownAt ??= performance.now();
  }

  /**
   * Resolves once everything `renderer` was given has reached Corral's stdout and stderr, or once
   * the budget is spent; says so on stderr, when it still can, in the second case.
   */
  async deliver(renderer: Renderer): Promise<void> {
    const left = (this.#shutdownAt ?? performance.now()) + this.#budgetMs - performance.now();
    if (await renderer.flushed(AbortSignal.timeout(Math.max(0, Math.ceil(left))))) return;
    try {
      writeSync(2, OUTPUT_LOST);
    } catch {
      // stderr is gone too.
    }
  }
}
