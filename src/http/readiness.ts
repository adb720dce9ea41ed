import type { Manager } from '../core/manager.js';

/** What `/ready` answers, as kuma-dp does: 200 READY, or 503 NOT_READY / TERMINATING. */
export type Readiness = 'READY' | 'NOT_READY' | 'TERMINATING';

/**
 * `manager`'s readiness: TERMINATING from the start of its shutdown or drain on, and whenever
 * `terminating()` says so (the CLI's stop signals and SIGUSR2, which come before the manager
 * hears of them); else READY while {@link Manager.ready} holds, NOT_READY otherwise.
 */
export function readinessOf(manager: Manager, terminating: () => boolean = () => false): Readiness {
  if (terminating() || manager.phase() !== 'running' || manager.draining()) return 'TERMINATING';
  return manager.ready() ? 'READY' : 'NOT_READY';
}
