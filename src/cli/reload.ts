import type { Component } from '../core/component.js';
import type { Manager } from '../core/manager.js';
import { ControlError } from '../control/protocol.js';
import { checkBinaries } from '../process/lookup.js';
import type { BuiltStack } from '../stackfile/build.js';
import { loadStack, StackFileError } from '../stackfile/load.js';
import type { Stack } from '../stackfile/schema.js';
import type { Redactor } from '../util/redact.js';

/** What a reload changes, by component name; see {@link planReload}. */
export interface ReloadPlan {
  readonly remove: readonly string[];
  /** Changed in the file: stopped with their dependents, replaced, started again. */
  readonly replace: readonly string[];
  readonly add: readonly string[];
  readonly unchanged: readonly string[];
  /** Top-level sections other than `components` that changed: they take effect at the next start. */
  readonly notApplied: readonly string[];
}

/**
 * Compares two validated stacks. A component is changed when anything in its section changed
 * (its normalized form: `10s` and `10000ms` are the same); everything outside `components` is
 * the run's own set-up, which a running Corral cannot change.
 */
export function planReload(current: Stack, next: Stack): ReloadPlan {
  const before = new Map(current.components.map((c) => [c.name, JSON.stringify(c)]));
  const after = new Map(next.components.map((c) => [c.name, JSON.stringify(c)]));
  const names = (keep: (name: string) => boolean, from: ReadonlyMap<string, string>) =>
    [...from.keys()].filter(keep);
  const { components: _a, ...currentRest } = current;
  const { components: _b, ...nextRest } = next;
  const sections = new Set([...Object.keys(currentRest), ...Object.keys(nextRest)]);
  const section = (stack: object, key: string) => JSON.stringify((stack as Record<string, unknown>)[key]);
  return {
    remove: names((n) => !after.has(n), before),
    replace: names((n) => after.has(n) && after.get(n) !== before.get(n), before),
    add: names((n) => !before.has(n), after),
    unchanged: names((n) => after.get(n) === before.get(n), before),
    notApplied: [...sections].filter((key) => section(currentRest, key) !== section(nextRest, key)),
  };
}

export interface ReloadOptions {
  readonly file: string;
  readonly redactor: Redactor;
  readonly manager: Manager;
  /** The stack as it runs now; replaced by the reloaded one once it is applied. */
  current: Stack;
  /** Builds the components of `stack` (only those, not the rest of the file). */
  readonly build: (stack: Stack) => Promise<BuiltStack>;
  readonly say: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/**
 * Re-reads and validates the stack file, builds what changed or is new and checks its binaries:
 * any problem there rejects with a {@link ControlError} (for an invalid file, naming each YAML
 * path and line) and changes nothing. Then stops the removed components, restarts the changed
 * ones with their dependents and starts the added ones, each in order, leaving the rest running.
 * Resolves to a summary of what it did.
 */
export async function reloadStack(options: ReloadOptions): Promise<string> {
  const { manager, redactor } = options;
  let next: Stack;
  try {
    next = await loadStack(options.file, { env: process.env, redactor });
  } catch (error) {
    const message = redactor.text(error instanceof Error ? error.message : String(error));
    options.say('error', `reload: ${message}; nothing was changed`);
    const code = error instanceof StackFileError ? error.code : 'STACK_UNREADABLE';
    throw new ControlError(code, `${message}\nnothing was changed`);
  }
  const plan = planReload(options.current, next);
  const changed = new Set([...plan.replace, ...plan.add]);
  let components: readonly Component[] = [];
  if (changed.size > 0) {
    try {
      const built = await options.build({
        ...next,
        components: next.components.filter((c) => changed.has(c.name)),
      });
      await checkBinaries(built.processes.map((p) => p.binary));
      components = built.components;
    } catch (error) {
      const message = redactor.text(error instanceof Error ? error.message : String(error));
      options.say('error', `reload: ${message}; nothing was changed`);
      throw new ControlError('FAILED', `${message}\nnothing was changed`);
    }
  }
  for (const key of plan.notApplied) {
    options.say(
      'warn',
      `reload: \`${key}\` changed, which takes effect only when the stack is started again`,
    );
  }
  const summary = describePlan(plan);
  options.say('info', `reload: ${summary}`);
  const byName = new Map(components.map((c) => [c.name, c]));
  const pick = (names: readonly string[]) => names.flatMap((name) => byName.get(name) ?? []);
  await manager.reconfigure({ remove: plan.remove, replace: pick(plan.replace), add: pick(plan.add) });
  options.current = next;
  return summary;
}

function describePlan(plan: ReloadPlan): string {
  const list = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');
  const parts = [
    plan.remove.length > 0 && `stopping removed ${list(plan.remove)}`,
    plan.replace.length > 0 && `restarting changed ${list(plan.replace)} with their dependents`,
    plan.add.length > 0 && `starting added ${list(plan.add)}`,
  ].filter((part): part is string => typeof part === 'string');
  return parts.length > 0 ? parts.join('; ') : 'no component changed';
}
