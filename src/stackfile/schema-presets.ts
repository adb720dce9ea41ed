import { resolve } from 'node:path';
import { z } from 'zod';
import { commonFields, notAfter, restartPolicy } from './schema-common.js';
import { duration, filePath, flag, hostPort, integer } from './fields.js';
import { describeValue } from './issues.js';
import type { CorednsSpec, EnvoySpec, ShapeOf } from './options.js';
import type { EnvoyPresetConfig } from '../presets/envoy/preset.js';
import { AdminAddressError, parseAdminAddress, type AdminAddress } from '../presets/envoy/admin.js';

/** Linux's limit on a unix socket path (sun_path is 108 bytes, one of them the terminating NUL). */
const MAX_SOCKET_PATH = 107;

const ENVOY_LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'warn', 'error', 'critical', 'off'] as const;

/** Envoy's admin API address: `host:port` (a bare port means 127.0.0.1) or `unix:/path/admin.sock`. */
function adminAddress(baseDir: string) {
  const what = 'host:port or unix:/path';
  return z
    .preprocess((value) => (typeof value === 'number' ? String(value) : value), z.string())
    .transform((text, ctx) => {
      let address: AdminAddress;
      try {
        address = parseAdminAddress(text, { defaultHost: '127.0.0.1' });
      } catch (error) {
        const problem = error instanceof AdminAddressError ? error.problem : String(error);
        ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${describeValue(text)}: ${problem}` });
        return z.NEVER;
      }
      if (!('socketPath' in address)) return address;
      const socketPath = resolve(baseDir, address.socketPath);
      if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
        const length = Buffer.byteLength(socketPath);
        const message = `the socket path is ${length} bytes long once resolved; at most ${MAX_SOCKET_PATH} fit`;
        ctx.addIssue({ code: 'custom', message });
      }
      return { socketPath };
    })
    .meta({
      description: `Envoy's admin API: ${what}. Default 127.0.0.1:9901.`,
    }) satisfies z.ZodType<AdminAddress>;
}

/** The program of a preset, by default found on PATH under its usual name. */
function executable(name: string, program: string) {
  return z
    .string()
    .min(1)
    .default(name)
    .meta({ description: `${program} executable: a path or a name on PATH.` });
}

/** `kind: envoy`: Envoy with kuma-dp's arguments, readiness from its admin API, and a connection-aware drain. */
export function envoySchema(baseDir: string) {
  return z
    .strictObject({
      kind: z.literal('envoy'),
      binary: executable('envoy', 'Envoy'),
      bootstrap: filePath(baseDir, 'Bootstrap config; Corral passes a 0600 copy made in the work dir.'),
      admin: adminAddress(baseDir).prefault('127.0.0.1:9901'),
      logLevel: z.enum(ENVOY_LOG_LEVELS).default('info').meta({ description: "Envoy's --log-level." }),
      componentLogLevel: z
        .string()
        .regex(/^[a-z0-9_]+:[a-z]+(,[a-z0-9_]+:[a-z]+)*$/, {
          error: 'expected name:level pairs like "upstream:debug,connection:trace"',
        })
        .optional()
        .meta({ description: "Envoy's --component-log-level, e.g. upstream:debug,connection:trace." }),
      concurrency: integer(
        1,
        1024,
        "Envoy's --concurrency; without it, --cpuset-threads on Linux.",
      ).optional(),
      drain: z
        .strictObject({
          min: duration('Shortest drain, even with no connections left. Default 0s.').prefault('0s'),
          timeout: duration("Longest drain; also Envoy's --drain-time-s. Default 30s.").prefault('30s'),
        } satisfies ShapeOf<NonNullable<EnvoyPresetConfig['drain']>>)
        .superRefine(notAfter('min', 'timeout'))
        .prefault({})
        .meta({
          description: 'Drain on shutdown: fail health checks, drain listeners, wait for 0 connections.',
        }),
      ...commonFields(baseDir),
    } satisfies ShapeOf<EnvoySpec>)
    .meta({ description: 'Envoy, run the way kuma-dp runs it.' }) satisfies z.ZodType<EnvoySpec>;
}

/** `kind: coredns`: CoreDNS with a generated Corefile (or a given one). */
export function corednsSchema(baseDir: string) {
  const defaults = { port: 15053, upstream: '127.0.0.1:15054', log: false };
  return z
    .strictObject({
      kind: z.literal('coredns'),
      binary: executable('coredns', 'CoreDNS'),
      port: integer(1, 65535, `Port the generated Corefile listens on. Default ${defaults.port}.`).optional(),
      upstream: hostPort(`Where queries go first, host:port. Default ${defaults.upstream}.`).optional(),
      log: flag('Log every query (the log plugin). Default false.').optional(),
      corefile: filePath(baseDir, 'A Corefile used as given, instead of the generated one.').optional(),
      prometheusAddress: hostPort('Address of the prometheus plugin. Default 127.0.0.1:19153.', {
        defaultHost: '127.0.0.1',
      }).prefault('127.0.0.1:19153'),
      readyAddress: hostPort('Address of the ready plugin, polled for readiness. Default 127.0.0.1:8181.', {
        defaultHost: '127.0.0.1',
      }).prefault('127.0.0.1:8181'),
      restart: restartPolicy().optional(),
      ...commonFields(baseDir),
    } satisfies ShapeOf<CorednsSpec>)
    .superRefine((value, ctx) => {
      if (value.corefile === undefined) return;
      for (const key of ['port', 'upstream', 'log'] as const) {
        const message = `"${key}" has no effect with "corefile", which is used as given`;
        if (value[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message });
      }
    })
    .transform((value) => ({
      ...value,
      port: value.port ?? defaults.port,
      upstream: value.upstream ?? { host: '127.0.0.1', port: 15054 },
      log: value.log ?? defaults.log,
    }))
    .meta({
      description: 'CoreDNS, with a Corefile generated as kuma-dp generated it.',
    }) satisfies z.ZodType<CorednsSpec>;
}
