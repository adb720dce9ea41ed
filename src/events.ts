import type { CoreEvent } from './core/events.js';
import type { OutputEvent } from './output/events.js';
import type { ProcessEvent } from './process/events.js';

/**
 * Every event Corral publishes: the core's own (components, shutdown, leadership, warnings), a
 * process component's, and an output sink's. Listeners such as the CLI's views, its metrics and
 * the pino adapter take this union; a user's own components may add events of their own types.
 */
export type CorralEvent = CoreEvent | ProcessEvent | OutputEvent;

export type CorralEventType = CorralEvent['type'];
