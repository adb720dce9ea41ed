import type { CommandContainment } from '../process/helper-command.js';
import { counterFor, type ConnectionsProbe } from './connections.js';
import type { DrainPlan } from './drain.js';
import { triggerFor, type DrainTrigger } from './trigger.js';

/**
 * A component's `drain` section as the stack-file loader hands it over (durations in milliseconds):
 *
 * ```yaml
 * drain:
 *   signal: SIGUSR1                  # → trigger { kind: 'signal', signal }; or http: { method, url, headers }
 *   connections: { http: "http://127.0.0.1:9000/connections" }   # → { kind: 'http', url }; or exec: [...]
 *   min: 1s
 *   timeout: 30s
 * ```
 */
export interface DrainSpec extends Pick<DrainPlan, 'min' | 'timeout'> {
  /** Omitted: nothing is sent, the drain only waits. */
  readonly trigger?: DrainTrigger;
  /** Omitted: the drain waits `min`. */
  readonly connections?: ConnectionsProbe;
}

/** The running component a drain is for. */
export interface DrainTarget {
  /** The process group leader a signal trigger goes to (the component's child). */
  readonly pid?: number;
  /** The layers an `exec` connections command runs in (the component's). */
  readonly commands?: CommandContainment;
}

/**
 * Turns a declared drain into a plan for {@link runDrain}. `target.pid` is read when the drain
 * runs, not now.
 */
export function planDrain(spec: DrainSpec, target: DrainTarget = {}): DrainPlan {
  return {
    ...(spec.trigger ? { trigger: triggerFor(spec.trigger, target) } : {}),
    ...(spec.connections ? { connections: counterFor(spec.connections, target.commands) } : {}),
    min: spec.min ?? 0,
    timeout: spec.timeout,
  };
}
