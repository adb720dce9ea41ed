import { z } from 'zod';
import { commonFields, exactlyOne, notAfter, oneOfKeys, restartPolicy } from './schema-common.js';
import type { DrainSpec } from '../drain/spec.js';
import type { HttpCall } from '../drain/trigger.js';
import { PROBE_DEFAULTS, type ReadinessProbe } from '../process/probe/spec.js';
import { formatMs } from '../core/errors.js';
import { argv, duration, flag, hostPort, httpUrl, integer, regex, signalName } from './fields.js';
import type { ProcessSpec, ShapeOf } from './options.js';

/** The shell a `shell:` command runs in; only when the stack file asks for one (never implicitly). */
export const SHELL = '/bin/sh';

const PROBES = ['http', 'tcp', 'exec', 'log'] as const;

/** `ready`: how Corral knows the component is ready, normalized to a `kind`-tagged union. */
function readyProbe() {
  // The library's defaults, written as the stack file writes durations.
  const interval = formatMs(PROBE_DEFAULTS.interval);
  const timeout = formatMs(PROBE_DEFAULTS.timeout);
  return (
    z
      .strictObject({
        http: httpUrl('Ready when a GET of this URL answers `status` (default: any 2xx).').optional(),
        status: integer(100, 599, 'The HTTP status that means ready (with `http`).').optional(),
        tcp: hostPort('Ready when a TCP connection to host:port succeeds.', {
          defaultHost: '127.0.0.1',
        }).optional(),
        exec: argv('Ready when this command exits 0.').optional(),
        log: regex('Ready when a line of stdout or stderr matches this regular expression.').optional(),
        interval: duration(`Time between attempts. Default ${interval}.`, { minMs: 1 }).prefault(interval),
        timeout: duration(
          `Deadline for becoming ready; missing it fails the component. Default ${timeout}.`,
        ).prefault(timeout),
      })
      .superRefine(exactlyOne(PROBES))
      .superRefine((value, ctx) => {
        if (value.status !== undefined && value.http === undefined) {
          const message = '"status" applies only to an "http" probe';
          ctx.addIssue({ code: 'custom', path: ['status'], message });
        }
      })
      // The probe module's own form: the one given key, with its timing (and an http probe's status).
      .transform(({ interval, timeout, ...probe }, ctx) => {
        const timing = { interval, timeout };
        if (probe.http !== undefined) {
          return { http: probe.http, ...(probe.status !== undefined && { status: probe.status }), ...timing };
        }
        if (probe.tcp !== undefined) return { tcp: probe.tcp, ...timing };
        if (probe.exec !== undefined) return { exec: probe.exec, ...timing };
        if (probe.log !== undefined) return { log: probe.log, ...timing };
        // Unreachable: exactlyOne has already failed the parse. Kept so the types need no assertion.
        ctx.addIssue({ code: 'custom', message: `needs one of ${PROBES.join(', ')}` });
        return z.NEVER;
      })
      .meta({
        description: 'Readiness probe: one of http, tcp, exec or log.',
        ...oneOfKeys(PROBES),
      }) satisfies z.ZodType<ReadinessProbe>
  );
}

/** `drain`: what starts the drain, how Corral knows it is done, and its bounds. */
function processDrain() {
  const http = z
    .strictObject({
      method: z.enum(['POST', 'PUT', 'GET', 'DELETE', 'PATCH']).default('POST'),
      url: httpUrl('URL to call to start draining.'),
      headers: z
        .record(z.string(), z.string())
        .default({})
        .meta({ description: 'Request headers (never logged).' }),
    } satisfies ShapeOf<HttpCall>)
    .meta({ description: 'An HTTP request that starts draining.' });
  const connections = z
    .strictObject({
      http: httpUrl('GET this URL; the body is the number of open connections.').optional(),
      exec: argv('Run this command; it prints the number of open connections.').optional(),
    })
    .superRefine(exactlyOne(['http', 'exec']))
    .transform((probe) =>
      probe.http !== undefined
        ? { kind: 'http' as const, url: probe.http }
        : { kind: 'exec' as const, command: probe.exec ?? [] },
    )
    .meta({
      description: 'Polled every 250 ms while draining; the drain ends when it reports 0.',
      ...oneOfKeys(['http', 'exec']),
    });
  return z
    .strictObject({
      signal: signalName('Signal that starts draining, e.g. SIGUSR1.').optional(),
      http: http.optional(),
      connections: connections.optional(),
      min: duration('Shortest drain, even with no connections left. Default 0s.').prefault('0s'),
      timeout: duration('Longest drain; the stop proper begins then. Default 30s.').prefault('30s'),
    })
    .superRefine(exactlyOne(['signal', 'http']))
    .superRefine(notAfter('min', 'timeout'))
    .transform(({ signal, http, connections, min, timeout }) => ({
      trigger:
        http !== undefined
          ? { kind: 'http' as const, ...http }
          : { kind: 'signal' as const, signal: signal ?? 'SIGTERM' },
      connections,
      min,
      timeout,
    }))
    .meta({
      description: 'Drain before stopping: a signal or HTTP call, then wait for connections to reach 0.',
      ...oneOfKeys(['signal', 'http']),
    }) satisfies z.ZodType<DrainSpec>;
}

/** `kind: process` (the default kind): any program. */
export function processSchema(baseDir: string) {
  return z
    .strictObject({
      kind: z.literal('process').default('process').meta({ description: 'The default kind: any program.' }),
      command: argv('The program and its arguments, run without a shell, e.g. [node, server.js].').optional(),
      shell: z
        .string()
        .min(1)
        .optional()
        .meta({ description: `A command line run by ${SHELL} -c, for when you do want a shell.` }),
      stopSignal: signalName('Signal that asks the process to stop. Default SIGTERM.').default('SIGTERM'),
      ready: readyProbe().optional(),
      restart: restartPolicy().optional(),
      drain: processDrain().optional(),
      oneShot: flag(
        'A job that finishes: exit 0 is success, and dependents start when it has finished.',
      ).default(false),
      ...commonFields(baseDir),
    } satisfies ShapeOf<ProcessSpec & { readonly shell?: string }>)
    .superRefine(exactlyOne(['command', 'shell']))
    .transform(({ command, shell, ...rest }) => ({
      ...rest,
      // `shell` is the stack file's way to write the argv of a shell, which is what the library takes.
      command: shell !== undefined ? [SHELL, '-c', shell] : (command ?? []),
    }))
    .meta({ ...oneOfKeys(['command', 'shell']) }) satisfies z.ZodType<ProcessSpec>;
}
