import type { z } from 'zod';
import { redactUrls } from '../util/redact.js';

/**
 * Turning problems into messages that name the place: the path formatting, the one message style
 * for zod's issues, and the rules that keep secrets out of every message.
 */

export type PathSegments = readonly PropertyKey[];

/**
 * `['components', 'app', 'dependsOn', 0]` → `components.app.dependsOn[0]`. Unusual keys are quoted,
 * cut and stripped of URL credentials: in a broken document, a key may be a value in disguise.
 */
export function formatPath(segments: PathSegments): string {
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z0-9_-]+$/.test(segment)) {
      text += text === '' ? segment : `.${segment}`;
    } else text += `[${JSON.stringify(redactUrls(cut(String(segment))))}]`;
  }
  return text;
}

/**
 * Values at these paths are never echoed: environment values, HTTP headers (think Authorization)
 * and the PostgreSQL connection string. Matching on the exact position, so that a component that
 * happens to be named `env` is not affected.
 */
export function isSecretPath(segments: PathSegments): boolean {
  const [top, , field, sub, leaf] = segments;
  if (top === 'components') {
    if (field === 'env') return true;
    if (field === 'drain' && sub === 'http' && leaf === 'headers') return true;
  }
  return top === 'leaderElection' && segments[1] === 'postgres' && segments[2] === 'url';
}

/**
 * Makes a message safe to print on one line: control characters (a newline in a regular expression,
 * an escape sequence in a component name) are written as JSON escapes, so every problem stays on its
 * own line and nothing in a stack file can drive the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

const ECHO_LIMIT = 60;

/**
 * The substitutions of the parse in progress (see {@link withSubstitutions}). Module state, but only
 * ever set around synchronous code, so no two parses can see each other's.
 */
let substitutions: ReadonlyMap<string, string> = new Map();

/**
 * Runs `fn` (synchronous) with the strings that `${VAR}` substitution produced, so that every message
 * built meanwhile shows a substituted value as it was written (`"${TOKEN}"`), never its content.
 */
export function withSubstitutions<T>(substituted: ReadonlyMap<string, string>, fn: () => T): T {
  const previous = substitutions;
  substitutions = substituted;
  try {
    return fn();
  } finally {
    substitutions = previous;
  }
}

/** The text a value was written as, when it came from substitution (also after becoming a number). */
export function substitutedFrom(value: unknown): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return substitutions.get(String(value));
}

/**
 * How a message shows the offending value: `10`, `"abc"`, `a list`. Strings are cut to a readable
 * length and stripped of URL credentials; with `secret`, a value is only named by its type ("a string");
 * a value that came from `${VAR}` is shown as written, never as substituted.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (!secret) {
    const written = substitutedFrom(value);
    if (written !== undefined) return `the value of ${JSON.stringify(cut(written))} (not shown)`;
    // Text with a line break (a block scalar, `|` or `>`) is a part of the file that landed where
    // one value was expected, a mis-indented section say: it could hold anything, secrets included.
    if (typeof value === 'string' && value.includes('\n')) return 'a block of text (not shown)';
    if (typeof value === 'string') return JSON.stringify(redactUrls(cut(value)));
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  }
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

function cut(text: string): string {
  return text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
};

type RawIssue = z.core.$ZodRawIssue;

/**
 * The message of every zod issue whose schema did not set its own. Zod calls this with the issue's
 * full path and the offending input, so the secret rules apply here.
 */
export function issueMessage(issue: RawIssue): string {
  const secret = isSecretPath(issue.path ?? []);
  const got = describeValue(issue.input, secret);
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required but missing';
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      // A number where a string belongs is nearly always an unquoted YAML scalar (`- 5`, `PORT: 8080`).
      const hint =
        issue.expected === 'string' && typeof issue.input === 'number'
          ? ` (quote it${secret ? '' : `: "${got}"`})`
          : '';
      return `expected ${expected}, got ${got}${hint}`;
    }
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'too_small':
      return sizeMessage(issue.origin, 'least', issue.minimum, got);
    case 'too_big':
      return sizeMessage(issue.origin, 'most', issue.maximum, got);
    case 'unrecognized_keys':
      // One line per key; the loader turns each line into an issue of its own, at the key.
      return issue.keys.map((key) => unknownKeyMessage(key, issue)).join('\n');
    case 'invalid_union': {
      // A discriminated union names the key and its allowed values (`kind`: process, envoy, coredns).
      const { discriminator, options: allowed = [] } = issue as {
        discriminator?: string;
        options?: unknown[];
      };
      if (discriminator !== undefined) {
        const options = allowed.filter((o) => o !== undefined && o !== null);
        const value = isRecord(issue.input) ? issue.input[discriminator] : undefined;
        return `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${describeValue(value)}`;
      }
      return `does not match any of the allowed forms, got ${got}`;
    }
    case 'invalid_key': {
      const inner = issue.issues.map((i) => i.message).join('; ');
      return `invalid name ${describeValue(issue.input)}: ${inner}`;
    }
    case 'invalid_format':
      return `has an invalid format, got ${got}`;
    default:
      return `is invalid, got ${got}`;
  }
}

function sizeMessage(origin: string, bound: 'least' | 'most', limit: number | bigint, got: string): string {
  const sized = origin === 'array' || origin === 'string';
  if (sized && bound === 'least' && limit === 1) return 'must not be empty';
  if (origin === 'array') return `must have at ${bound} ${limit} items`;
  if (origin === 'string') return `must be at ${bound} ${limit} characters long`;
  return `must be at ${bound} ${limit}, got ${got}`;
}

function unknownKeyMessage(key: string, issue: RawIssue): string {
  const shape = issue.inst?._zod.def;
  const known = shape && 'shape' in shape && isRecord(shape.shape) ? Object.keys(shape.shape) : [];
  const near = known.find((candidate) => editDistance(candidate.toLowerCase(), key.toLowerCase()) <= 2);
  return `unknown key ${describeValue(key)}${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
}

/** A map of the raw document (not a list, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
