import type { Manager } from '../core/manager.js';

/**
 * The components of a manager that are past their stop timeout and still running, as its events
 * tell: a `component.stop-timeout` puts a component here, and its settling (or a new start) takes
 * it out. Only events from construction on are seen, so build it before the manager stops.
 */
export class StuckComponents {
  readonly #stuck = new Set<string>();

  constructor(manager: Manager) {
    manager.on((event) => {
      switch (event.type) {
        case 'component.stop-timeout':
          this.#stuck.add(event.component);
          break;
        case 'component.stopped':
        case 'component.failed':
        case 'component.completed':
        case 'component.starting':
          this.#stuck.delete(event.component);
          break;
      }
    });
  }

  /** Their names, in the order they became stuck. */
  list(): string[] {
    return [...this.#stuck];
  }
}
