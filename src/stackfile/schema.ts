import { z } from 'zod';
import { corednsSchema, envoySchema } from './schema-presets.js';
import { processSchema } from './schema-process.js';
import { duration, filePath, flag, hostPort } from './fields.js';
import { describeValue } from './issues.js';
import type { PostgresSpec, ShapeOf } from './options.js';

/**
 * The stack file's one schema definition. Validation, the TypeScript types below and the JSON
 * Schema for editors (schema/corral.schema.json) all come from it. Its output is the normalized
 * stack: durations in milliseconds, defaults applied, paths absolute, addresses split.
 */

/** Component names: they appear in logs, metrics, cgroup names and file names, so keep them plain. */
export const COMPONENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Listening addresses bind loopback unless the file names another host; port 0 lets the OS choose. */
function listenAddress(description: string, fallback: string) {
  return hostPort(`${description} host:port, or a port on 127.0.0.1. Default ${fallback}.`, {
    defaultHost: '127.0.0.1',
    allowPortZero: true,
  }).prefault(fallback);
}

/** The schema of a whole stack file; `baseDir` is what relative paths are resolved against. */
export function stackSchema(baseDir: string) {
  const component = z.discriminatedUnion('kind', [
    processSchema(baseDir),
    envoySchema(baseDir),
    corednsSchema(baseDir),
  ]);
  return z
    .strictObject({
      workDir: filePath(
        baseDir,
        'Work dir, kept after exit; one run at a time may use it. Default: a fresh 0700 temporary dir, removed on exit.',
      ).optional(),
      shutdown: z
        .strictObject({
          timeout: duration('Whole budget from the first signal to exit. Default 60s.').prefault('60s'),
        })
        .prefault({}),
      readiness: z
        .strictObject({
          address: listenAddress('Where GET /ready and GET /live are served:', '127.0.0.1:9902'),
        })
        .optional()
        .meta({ description: 'The /ready endpoint. Omit the section to disable it.' }),
      metrics: z
        .strictObject({ address: listenAddress('Where GET /metrics is served:', '127.0.0.1:9903') })
        .optional()
        .meta({ description: 'The Prometheus /metrics endpoint. Omit the section to disable it.' }),
      leaderElection: z.strictObject({ postgres: postgresElection() }).optional().meta({
        description: 'Elect one leader among replicas. Without it this instance is always the leader.',
      }),
      isolation: z
        .strictObject({
          pidNamespace: flag(
            'Run the stack as init of its own PID namespace, so no process can escape.',
          ).default(false),
        })
        .prefault({}),
      log: z
        .strictObject({
          format: z
            .enum(['pretty', 'json'])
            .optional()
            .meta({ description: 'Default: pretty on a TTY, else json.' }),
          level: z.enum(LOG_LEVELS).optional().meta({ description: 'Default: info.' }),
        })
        .prefault({})
        .meta({ description: 'Defaults for --log-format and --log-level; the flags win.' }),
      components: z
        .record(
          z.string().regex(COMPONENT_NAME, {
            error: 'use lowercase letters, digits, "-" and "_", starting with a letter or digit (at most 63)',
          }),
          component,
          // Only for a wrong type: a bad name (invalid_key) keeps the message that names the rule.
          {
            error: (issue) => (issue.code === 'invalid_type' ? expectingComponents(issue.input) : undefined),
          },
        )
        .refine((map) => Object.keys(map).length > 0, { error: 'needs at least one component' })
        // An ordered list, each with its name: what the runtime consumes, in the file's order.
        .transform((map) => Object.entries(map).map(([name, spec]) => ({ name, ...spec })))
        .meta({ description: 'The components, keyed by name. kind defaults to process.' }),
    })
    .superRefine(({ readiness, metrics }, ctx) => {
      const same = JSON.stringify(readiness?.address) === JSON.stringify(metrics?.address);
      if (readiness && metrics && metrics.address.port !== 0 && same) {
        const message = 'is the same as readiness.address';
        ctx.addIssue({ code: 'custom', path: ['metrics', 'address'], message });
      }
    })
    .meta({
      title: 'Corral stack file',
      description: 'Components that Corral runs, starts in order and stops as one unit.',
    });
}

function expectingComponents(input: unknown): string | undefined {
  return input === undefined
    ? undefined
    : `expected a map of component names to components, got ${describeValue(input)}`;
}

/**
 * `leaderElection.postgres`: the options of the PostgreSQL elector (src/postgres/options.ts),
 * handed to it as they are. Timings left out are chosen by the elector. The URL is a secret, so no
 * message ever shows it.
 */
function postgresElection() {
  const timing = (description: string) => duration(description, { minMs: 1 }).optional();
  return z
    .strictObject({
      url: z
        .string()
        .refine(isPostgresUrl, {
          error: 'expected a postgres:// or postgresql:// URL (not shown: it may hold a password)',
        })
        .meta({
          description: 'Connection string, postgres://user:password@host:5432/db. Use ${DATABASE_URL}.',
        }),
      name: z
        .string()
        .refine((name) => name.length >= 1 && name.length <= 200 && !/\p{Cc}/u.test(name), {
          error: 'expected 1 to 200 printable characters',
        })
        .meta({ description: 'Election name; independent elections can share one database.' }),
      lease: timing('How long a leadership lasts in the database without renewal. Default 5s.'),
      renewDeadline: timing(
        'The leader steps down when it has not renewed for this long. Shorter than lease.',
      ),
      renewInterval: timing('How often the leader renews. Shorter than renewDeadline.'),
      retry: timing('How often a follower checks the lease, and the first reconnect delay. Default 1s.'),
      sessionLock: flag(
        'Also hold a session advisory lock, for sub-second failover. Turn off behind a transaction-pooling pgbouncer. Default true.',
      ).optional(),
      table: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, {
          error: 'expected `name` or `schema.name` (letters, digits, _)',
        })
        .optional()
        .meta({ description: 'The lease table, created if missing. Default corral_leader.' }),
    } satisfies ShapeOf<PostgresSpec>)
    .superRefine((value, ctx) => {
      // The same order the elector enforces, checked here so the error has a line number.
      const order = [
        ['renewInterval', value.renewInterval],
        ['renewDeadline', value.renewDeadline],
        ['lease', value.lease],
      ] as const;
      for (const [i, [shorter, a]] of order.entries()) {
        const later = order.slice(i + 1).find(([, b]) => typeof b === 'number');
        if (typeof a === 'number' && later !== undefined && typeof later[1] === 'number' && a >= later[1]) {
          ctx.addIssue({ code: 'custom', path: [shorter], message: `must be shorter than ${later[0]}` });
        }
      }
    }) satisfies z.ZodType<PostgresSpec>;
}

function isPostgresUrl(text: string): boolean {
  return URL.canParse(text) && ['postgres:', 'postgresql:'].includes(new URL(text).protocol);
}

/** A validated, normalized stack: what {@link parseStack} returns. */
export type Stack = z.output<ReturnType<typeof stackSchema>>;
/** One component of a stack, with its `name`; switch on `kind`. */
export type ComponentSpec = Stack['components'][number];
