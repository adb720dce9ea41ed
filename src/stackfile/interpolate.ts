import { MASK, type Secrets } from '../util/redact.js';

/**
 * `${VAR}` and `${VAR:-default}` in string values of a stack file, read from a given environment.
 *
 * - `${VAR}`: the variable's value; an unset variable is an error (a set but empty one gives "").
 * - `${VAR:-default}`: the default when the variable is unset or empty (as in the shell).
 * - `$${` is a literal `${`; any other `$` is kept as it is.
 *
 * Substitution happens on parsed string scalars, never on the YAML text, so a value cannot inject
 * YAML structure, and map keys (component names, env names) are never substituted.
 */

export type Environment = Readonly<Record<string, string | undefined>>;

/** A substituted string, or why it could not be substituted (the message never contains a value). */
export type Interpolation =
  | {
      ok: true;
      value: string;
      /** Whether a variable was read (not only an escape). */
      read: boolean;
      /** `value` with each variable's value written as `***` (defaults, which the file shows, kept). */
      shown: string;
      /** The values taken from the environment (not defaults). */
      values: string[];
    }
  | { ok: false; message: string };

/**
 * `$${`, or a `${` that must begin an expression: a variable name, then optionally `:-` and a
 * default up to the first `}` (the name is unset when what follows `${` is not such an expression).
 */
const REFERENCE = /\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})?/g;

/** Substitutes every expression in `text`; fails with the first problem. */
export function interpolate(text: string, env: Environment): Interpolation {
  const values: string[] = [];
  let problem: string | undefined;
  let read = false;
  let shown = '';
  let copied = 0;
  const value = text.replace(
    REFERENCE,
    (match: string, name: string | undefined, fallback: string | undefined, at: number) => {
      let result = '${'; // what `$${` stands for
      let show = result;
      if (match !== '$${') {
        const set = name === undefined ? undefined : env[name];
        if (name === undefined) {
          problem ??=
            'invalid variable reference: expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)';
        } else if (fallback?.includes('${')) {
          problem ??= 'a default cannot contain another ${…} reference';
        } else if (set === undefined && fallback === undefined) {
          problem ??= `environment variable ${name} is not set (use \${${name}:-default})`;
        } else if (set === undefined || (set === '' && fallback !== undefined)) {
          result = show = fallback ?? '';
        } else {
          result = set;
          show = set === '' ? '' : MASK;
          if (set !== '') values.push(set);
        }
        read = true;
      }
      shown += text.slice(copied, at) + show;
      copied = at + match.length;
      return result;
    },
  );
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, value, read, shown: shown + text.slice(copied), values };
}

/** Where a problem was found: the path of the value in the document. */
export interface InterpolationProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** A document after substitution. */
export interface InterpolatedDocument {
  readonly document: unknown;
  readonly problems: readonly InterpolationProblem[];
  /**
   * Each string that substitution produced, mapped to the text it was written as (`${TOKEN}`).
   * Messages show the written text instead: a variable may hold a secret.
   */
  readonly substituted: ReadonlyMap<string, string>;
  /** What the run must never show (see {@link MIN_SEARCHED_SECRET}). */
  readonly secrets: Required<Secrets>;
}

/**
 * Every value read from the environment is a secret, and so is every string it went into
 * (`--password=${PW}`, shown as `--password=***`). Values and strings shorter than this are not
 * searched for in what Corral says, where they would blank out innocent text (a `PORT` of `80`
 * in every address); they are still hidden where they stand whole as an argument of a command,
 * and inside any longer string they were substituted into.
 */
export const MIN_SEARCHED_SECRET = 4;

/**
 * Returns a copy of a parsed document with every string value substituted, and the problems found.
 * The input is left untouched: YAML aliases can make one object appear at several paths, and
 * substituting in place would substitute it twice (turning an escaped `$${` into a reference).
 * A structure that contains itself (`a: &x [*x]`) is cut where it recurs and reported.
 */
export function interpolateDocument(root: unknown, env: Environment): InterpolatedDocument {
  const problems: InterpolationProblem[] = [];
  const substituted = new Map<string, string>();
  const secrets = {
    values: new Set<string>(),
    strings: new Map<string, string>(),
    minSearchLength: MIN_SEARCHED_SECRET,
  };
  const ancestors = new Set<object>();

  const walk = (value: unknown, path: readonly (string | number)[]): unknown => {
    if (typeof value === 'string') {
      const result = interpolate(value, env);
      if (!result.ok) {
        problems.push({ path, message: result.message });
        return value;
      }
      if (result.read && !substituted.has(result.value)) substituted.set(result.value, value);
      for (const secret of result.values) secrets.values.add(secret);
      if (result.shown !== result.value) secrets.strings.set(result.value, result.shown);
      return result.value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (ancestors.has(value)) {
      problems.push({ path, message: 'an alias refers to a structure that contains it (a recursive alias)' });
      return null;
    }
    ancestors.add(value);
    try {
      if (Array.isArray(value)) return value.map((item: unknown, index) => walk(item, [...path, index]));
      // Anything else that is not a plain map (a Buffer from `!!binary`) is left for the schema to reject.
      if (Object.getPrototypeOf(value) !== Object.prototype) return value;
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // defineProperty, not assignment: a key named `__proto__` must stay an ordinary key.
        Object.defineProperty(copy, key, {
          value: walk(item, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return copy;
    } finally {
      ancestors.delete(value);
    }
  };

  return { document: walk(root, []), problems, substituted, secrets };
}
