import { z } from 'zod';
import type { ProcessOptions } from '../process/component.js';
import { formatMs } from '../core/errors.js';
import type { RestartOptions } from '../core/restart.js';
import { duration, environment, filePath, flag, integer, principal } from './fields.js';
import type { OutputSpec, ProcessSettings, ShapeOf } from './options.js';

/** What every kind of component has: its place in the graph, its process settings, its stop budget. */
export function commonFields(baseDir: string) {
  return {
    dependsOn: z.array(z.string()).default([]).meta({
      description: 'Components that must be ready (one-shot ones: finished) before this one starts.',
    }),
    leader: flag('Runs only on the replica elected leader (see leaderElection).').default(false),
    env: environment('Environment variables set on top of the inherited environment.').default({}),
    cwd: filePath(
      baseDir,
      "Working directory of the process. Default: the stack file's directory.",
    ).optional(),
    user: principal('User to run as: a name or a numeric uid.').optional(),
    group: principal('Group to run as: a name or a numeric gid.').optional(),
    stopTimeout: duration('How long after the stop signal before SIGKILL. Default 10s.').prefault('10s'),
    output: output(baseDir),
  } satisfies ShapeOf<ProcessSettings & Pick<ProcessOptions, 'stopTimeout'> & { output: OutputSpec }>;
}

/**
 * Where a component's stdout and stderr go: `log` (prefixed lines, or JSON records with
 * --log-format json), `raw` (passed through untouched), or `{ file: path }` (written to that file).
 */
function output(baseDir: string) {
  return z
    .union(
      [
        z.enum(['log', 'raw']),
        z.strictObject({ file: filePath(baseDir, 'File that receives stdout and stderr.') }),
      ],
      { error: 'expected "log", "raw" or { file: <path> }' },
    )
    .transform((value) =>
      typeof value === 'string' ? { mode: value } : { mode: 'file' as const, file: value.file },
    )
    .prefault('log')
    .meta({
      description: 'Where stdout and stderr go: "log" (default), "raw", or { file: path }.',
    }) satisfies z.ZodType<OutputSpec>;
}

/** Restart on failure with exponential backoff, giving up after `maxRestarts` within `window`. */
export function restartPolicy() {
  return z
    .strictObject({
      maxRestarts: integer(
        0,
        1_000_000,
        'Restarts allowed within `window` before giving up. Default 5.',
      ).default(5),
      window: duration('The period over which restarts are counted. Default 60s.').prefault('60s'),
      backoff: z
        .strictObject({
          base: duration('First delay; it doubles on each restart. Default 1s.').prefault('1s'),
          max: duration('Longest delay. Default 30s.').prefault('30s'),
        })
        .superRefine(notAfter('base', 'max'))
        .prefault({}),
    } satisfies ShapeOf<RestartOptions>)
    .meta({
      description: 'Restart the component when it fails. Without this section a failure stops the stack.',
    }) satisfies z.ZodType<RestartOptions>;
}

/** A check that duration `early` is not longer than duration `late`, reported at `early`. */
export function notAfter<K extends string>(early: K, late: K) {
  return (value: Partial<Record<K, unknown>>, ctx: z.RefinementCtx) => {
    const a = value[early];
    const b = value[late];
    if (typeof a === 'number' && typeof b === 'number' && a > b) {
      const message = `${early} (${formatMs(a)}) must not be longer than ${late} (${formatMs(b)})`;
      ctx.addIssue({ code: 'custom', path: [early], message });
    }
  };
}

/**
 * Exactly one of `keys` must be given. A missing choice is reported at the object, an extra one at
 * the extra key. (The JSON Schema expresses the same rule with {@link oneOfKeys}.)
 */
export function exactlyOne(keys: readonly string[]) {
  const names = keys.map((key) => `"${key}"`).join(', ');
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = keys.filter((key) => value[key] !== undefined);
    if (present.length === 0) ctx.addIssue({ code: 'custom', message: `needs one of ${names}` });
    for (const extra of present.slice(1)) {
      const message = `cannot be combined with "${present[0] ?? ''}": give only one of ${names}`;
      ctx.addIssue({ code: 'custom', path: [extra], message });
    }
  };
}

/** The JSON Schema form of {@link exactlyOne}, for editors. */
export function oneOfKeys(keys: readonly string[]) {
  return { oneOf: keys.map((key) => ({ required: [key] })) };
}
