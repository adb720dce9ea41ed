import type { CorralEvent } from '../events.js';
import type { Manager } from '../core/manager.js';

/**
 * Every event `manager` emits from now on, in order, in an array that grows as they come: for
 * assertions on what happened (`events.filter((e) => e.type === 'component.failed')`).
 */
export function recordEvents(manager: Manager): CorralEvent[] {
  const events: CorralEvent[] = [];
  manager.on((event) => events.push(event));
  return events;
}
