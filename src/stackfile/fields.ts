import { resolve } from 'node:path';
import { z } from 'zod';
import { parseHostPort, type HostPortOptions } from '../util/address.js';
import { DURATION_PATTERN, MAX_DURATION_MS, parseDuration } from './duration.js';
import { describeValue, substitutedFrom } from './issues.js';

/**
 * The building blocks of the stack-file schema: each validates one kind of value, says what it
 * expected in its own words, and turns the text into what the runtime uses (ms, {host, port}, …).
 * The JSON Schema is generated from these same definitions, so descriptions written here are what
 * an editor shows.
 */

/** The message of a failed check; `undefined` leaves a missing value to the generic "is required". */
function expecting(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? undefined : `expected ${what}, got ${describeValue(issue.input)}`;
}

/**
 * The message for a value of the wrong type only. A schema's own `error` also covers the issues of
 * its checks (an empty list, a bad record key), which keep their more precise generic messages.
 */
function wrongType(what: string) {
  return (issue: { code?: string; input?: unknown }) =>
    issue.code === 'invalid_type' ? expecting(what)(issue) : undefined;
}

/** A duration string (`10s`) turned into milliseconds; `minMs` > 0 for intervals, where 0 would spin. */
export function duration(description: string, { minMs = 0 } = {}) {
  const what = 'a duration like "10s"';
  return z
    .string({ error: wrongType(what) })
    .regex(DURATION_PATTERN, { error: expecting(`${what} (units: ms, s, m, h)`) })
    .transform((text, ctx) => {
      const ms = parseDuration(text) ?? 0;
      if (ms > MAX_DURATION_MS) {
        const message = `must be at most 596h (Node's timer limit), got ${describeValue(text)}`;
        ctx.addIssue({ code: 'custom', message });
      } else if (ms < minMs) {
        ctx.addIssue({ code: 'custom', message: `must be more than 0, got ${describeValue(text)}` });
      }
      return ms;
    })
    .meta({ description: `${description} A duration with a unit: 500ms, 10s, 1m, 1h, 1m30s.` });
}

/** Numbers may also come as strings, since `${VAR}` substitution always yields a string. */
function fromNumericString(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

/** A whole number in a range, e.g. a port or a count; a numeric string (from `${VAR}`) is accepted. */
export function integer(min: number, max: number, description: string) {
  return z.preprocess(fromNumericString, z.int().min(min).max(max)).meta({ description });
}

/** `true` or `false`; the strings "true" and "false" (from `${VAR}`) are accepted. */
export function flag(description: string) {
  return z
    .preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean())
    .meta({ description });
}

/** A TCP address as `{ host, port }`; a bare port (`9902` or `:9902`) gets `defaultHost`. */
export function hostPort(description: string, options: HostPortOptions = {}) {
  const forms = options.defaultHost === undefined ? 'host:port' : 'host:port or a port';
  return z
    .union([z.string(), z.int()], { error: expecting(forms) })
    .transform((value, ctx) => {
      const text = String(value);
      const address = parseHostPort(text, options);
      if ('problem' in address) {
        const message = `expected ${forms}, got ${describeValue(text)}: ${address.problem}`;
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return address;
    })
    .meta({ description });
}

/** An http:// or https:// URL. Its password, if any, never shows in a message. */
export function httpUrl(description: string) {
  const what = 'an http:// or https:// URL';
  return z
    .string({ error: wrongType(what) })
    .refine(isHttpUrl, { error: expecting(what) })
    .meta({ description });
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol, hostname } = new URL(text);
  return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
}

/** A path, resolved against the stack file's directory (a given absolute path stays as it is). */
export function filePath(baseDir: string, description: string) {
  return z
    .string({ error: wrongType('a path') })
    .min(1)
    .transform((path) => resolve(baseDir, path))
    .meta({ description: `${description} Relative paths are relative to the stack file's directory.` });
}

/**
 * Signals a stack file may name. A fixed list rather than `os.constants.signals`, so that the
 * generated JSON Schema is the same on every platform; SIGSTOP and friends would only hang a stop.
 */
export const SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGALRM',
  'SIGABRT',
  'SIGKILL',
] as const satisfies readonly NodeJS.Signals[];

export function signalName(description: string) {
  return z.enum(SIGNALS, { error: expecting(`a signal name like "SIGTERM"`) }).meta({ description });
}

/** A program and its arguments, run without a shell. */
export function argv(description: string) {
  return z
    .array(z.string(), { error: wrongType('a list like [node, server.js]') })
    .min(1)
    .refine((args) => args[0] !== '', { error: 'the program name (the first item) must not be empty' })
    .meta({ description });
}

/** A regular expression (JavaScript syntax), compiled here so that a bad one fails before anything starts. */
export function regex(description: string) {
  return z
    .string({ error: wrongType('a regular expression') })
    .transform((source, ctx) => {
      try {
        return new RegExp(source);
      } catch (error) {
        // The reason quotes the pattern, which must not show if it came from a variable.
        const reason =
          substitutedFrom(source) === undefined && error instanceof Error ? `: ${error.message}` : '';
        ctx.addIssue({ code: 'custom', message: `not a valid regular expression${reason}` });
        return z.NEVER;
      }
    })
    .meta({ description });
}

/** Environment variables to set, on top of the inherited environment. Values never appear in messages. */
export function environment(description: string) {
  return z
    .record(
      z.string().regex(/^[^=\0]+$/, { error: 'an environment variable name must not contain "=" or NUL' }),
      z.string(),
      { error: wrongType('a map of names to strings') },
    )
    .meta({ description });
}

/** A user or group: a name, or a numeric id (a numeric string becomes a number). */
export function principal(description: string) {
  const what = 'a name or a numeric id';
  return z
    .union(
      [z.int().min(0), z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, { error: expecting(what) })],
      { error: expecting(what) },
    )
    .transform((value) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
    .meta({ description });
}
