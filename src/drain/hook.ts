import type { ProcessOptions } from '../process/component.js';
import type { ComponentContext } from '../core/component.js';
import { runDrain, type DrainResult } from './drain.js';
import type { Warning } from '../util/warning.js';
import { planDrain, type DrainSpec } from './spec.js';

/** The `drain` option of `processComponent`. */
export type ProcessDrainHook = NonNullable<ProcessOptions['drain']>;

/**
 * The `drain` hook for a process component with a declared `drain` section: the signal goes to
 * the running child's process group. The same drain runs before a stop and on a drain-only
 * request (SIGUSR2), where the component then keeps running. Warnings (failed trigger or probe,
 * connections still open at the timeout) are published as `warning` events naming the component.
 */
export function drainHook(spec: DrainSpec): ProcessDrainHook {
  return async (signal, ctx, child) => {
    const warn = warnAs(ctx);
    const plan = planDrain(spec, { pid: child.pid, commands: child.commands });
    reportResult(await runDrain(plan, { clock: ctx.clock, signal, warn }), warn);
  };
}

/** A warning callback that publishes `warning` events for component `ctx.name`. */
export function warnAs(ctx: ComponentContext): (warning: Warning) => void {
  return (warning) =>
    ctx.emit({ type: 'warning', code: warning.code, message: warning.message, component: ctx.name });
}

/** Connections still open when the drain gave up will be cut by the stop: say so. */
export function reportResult(result: DrainResult, warn: (warning: Warning) => void): void {
  if (result.outcome === 'timeout' && (result.lastCount ?? 0) > 0) {
    warn({
      code: 'DRAIN_TIMEOUT',
      message: `drain timed out after ${Math.round(result.durationMs)}ms with ${result.lastCount} connection(s) still open; stopping anyway`,
    });
  }
}
