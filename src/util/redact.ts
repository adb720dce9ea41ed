/**
 * Keeping secrets out of everything Corral says: the one place that knows what a URL may hide and
 * how a known secret is found in text. Every message, event, error and metric that may quote a
 * URL or a configured value goes through {@link redactUrl}, {@link redactUrls} or a
 * {@link Redactor} first. Imports only Node.
 */

/** What a hidden part is replaced with. */
export const MASK = '***';

/** The start of a URL with an authority: `scheme://`. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * `scheme://user:pw@host:1/p?token=t&x#frag` → `scheme://***@host:1/p?token=***&x=***#***`: the
 * user information, every query value (a part without `=` entirely) and the fragment, which can
 * all carry credentials. Works on the text as written, so it also covers what a URL parser
 * rejects; the user information is taken to end at the last `@`, since a password may hold an
 * unencoded `/`, `?` or `#` (a URL with an `@` in its path shows its host hidden too). Idempotent;
 * text without `scheme://` is returned as it is.
 */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[0];
  if (scheme === undefined) return url;
  let rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = `${MASK}${rest.slice(at)}`;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    fragment = hash === rest.length - 1 ? '#' : `#${MASK}`;
    rest = rest.slice(0, hash);
  }
  const question = rest.indexOf('?');
  if (question !== -1) rest = `${rest.slice(0, question + 1)}${redactQuery(rest.slice(question + 1))}`;
  return `${scheme}${rest}${fragment}`;
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((part) => {
      if (part === '') return part;
      const equals = part.indexOf('=');
      // A part without `=` is all value (`?s3cr3t`); its name is the secret.
      if (equals === -1) return MASK;
      return equals === part.length - 1 ? part : `${part.slice(0, equals + 1)}${MASK}`;
    })
    .join('&');
}

/**
 * A URL in free text: `scheme://` and everything up to whitespace, a quote, a backtick or an
 * angle bracket.
 */
const URL_IN_TEXT = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'`<>]*/g;
/** Punctuation that ends a sentence or a parenthesis rather than the URL before it. */
const TRAILING = /[).,;:!\]]+$/;

/** {@link redactUrl} applied to every URL in `text` (a message, a command line, a program's stderr). */
export function redactUrls(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (match) => {
    const trailing = TRAILING.exec(match)?.[0] ?? '';
    return `${redactUrl(match.slice(0, match.length - trailing.length))}${trailing}`;
  });
}

/** Known secrets, as a {@link Redactor} learns them. */
export interface Secrets {
  /**
   * Values hidden as `***` wherever they occur, in any spelling: raw, URL-encoded or -decoded,
   * JSON-escaped.
   */
  readonly values?: Iterable<string>;
  /**
   * Whole strings that contain secrets, each with how it is shown instead:
   * `['--password=hunter2', '--password=***']`.
   */
  readonly strings?: Iterable<readonly [text: string, shown: string]>;
  /**
   * These values and strings are not searched for in text when shorter than this, where they
   * would blank out innocent words; they are still hidden where one stands whole as an item of a
   * list (an argument of a command). @default 1
   */
  readonly minSearchLength?: number;
}

/**
 * Hides known secrets and the secret parts of URLs in text, and in every string of a value (an
 * event, an error with its cause and fields). Learning more with {@link Redactor.add} is allowed
 * at any time; redacting never changes what it is given.
 */
export class Redactor {
  /** Each text searched for, and what replaces it. */
  readonly #replacements = new Map<string, string>();
  /** Whole list items, and how each is shown. */
  readonly #items = new Map<string, string>();
  /** Matches every key of #replacements, longest first; `undefined` until built, `null` when empty. */
  #pattern: RegExp | null | undefined;

  constructor(secrets: Secrets = {}) {
    this.add(secrets);
  }

  /** Learns more secrets; returns `this`. */
  add(secrets: Secrets): this {
    const min = Math.max(1, secrets.minSearchLength ?? 1);
    const search = (text: string, shown: string): void => {
      if (text.length < min) return;
      this.#replacements.set(text, shown);
      // Text is searched after its URLs were redacted (see `text`), which may have cut into a
      // secret that holds a URL: search for that form too.
      const redacted = redactUrls(text);
      if (redacted !== text) this.#replacements.set(redacted, redactUrls(shown));
    };
    for (const [text, shown] of secrets.strings ?? []) {
      if (text === shown || text === '') continue;
      this.#items.set(text, shown);
      search(text, shown);
    }
    // After the strings: where a value is also a whole string, it is hidden entirely.
    for (const value of secrets.values ?? []) {
      if (value === '') continue;
      this.#items.set(value, MASK);
      for (const spelling of spellings(value)) search(spelling, MASK);
    }
    this.#pattern = undefined;
    return this;
  }

  /** `text` with every URL redacted (see {@link redactUrl}) and every known secret replaced. */
  text(text: string): string {
    // URLs first: a secret that happens to be part of a scheme (`http`) must not hide the URL
    // from being found, and with it its query.
    const redacted = redactUrls(text);
    const pattern = this.#compiled();
    // One pass, so that nothing is searched for again inside what replaced a secret.
    return pattern === null
      ? redacted
      : redacted.replace(pattern, (match) => this.#replacements.get(match) ?? MASK);
  }

  /**
   * A copy of `value` with every string in it redacted: arrays, plain objects and errors are
   * copied (an error keeps its prototype, so its class, `code` and fields stay as they are, while
   * its message, stack, fields and cause are redacted). A string that is an item of a list is
   * first matched whole, as an argument of a command is. Other objects are passed as they are.
   * Fields named in `keep` are copied untouched at any depth: names and enumerations that the
   * program set itself, which a secret that happens to equal one must not garble.
   */
  value<T>(value: T, keep: ReadonlySet<PropertyKey> = NOTHING): T {
    return this.#copy(value, keep, new WeakMap()) as T;
  }

  /** A thrown value as one line of text, redacted. */
  describe(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return this.text(message.replace(/\s+/g, ' ').trim());
  }

  #item(text: string): string {
    return this.#items.get(text) ?? this.text(text);
  }

  #copy(value: unknown, keep: ReadonlySet<PropertyKey>, seen: WeakMap<object, unknown>): unknown {
    if (typeof value === 'string') return this.text(value);
    if (typeof value !== 'object' || value === null) return value;
    const done = seen.get(value);
    if (done !== undefined) return done;
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      for (const item of value as unknown[]) {
        copy.push(typeof item === 'string' ? this.#item(item) : this.#copy(item, keep, seen));
      }
      return copy;
    }
    const prototype = Object.getPrototypeOf(value) as object | null;
    const isError = value instanceof Error;
    if (!isError && prototype !== Object.prototype && prototype !== null) return value;
    const copy = Object.create(prototype) as Record<PropertyKey, unknown>;
    seen.set(value, copy);
    // Own keys, not only enumerable ones: an error's message, stack and cause are not enumerable.
    for (const key of isError ? Reflect.ownKeys(value) : Object.keys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor === undefined) continue;
      let item: unknown;
      try {
        item = 'value' in descriptor ? descriptor.value : (value as Record<PropertyKey, unknown>)[key];
      } catch {
        continue; // a getter that throws shows nothing, so it leaks nothing
      }
      // defineProperty, not assignment: keeps enumerability, and a key named `__proto__` stays a key.
      Object.defineProperty(copy, key, {
        value: keep.has(key) ? item : this.#copy(item, keep, seen),
        enumerable: descriptor.enumerable ?? false,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }

  #compiled(): RegExp | null {
    if (this.#pattern === undefined) {
      const needles = [...this.#replacements.keys()].sort((a, b) => b.length - a.length);
      // Longest first: at any position the alternation takes the first that matches, so a secret
      // that contains another is replaced whole.
      this.#pattern = needles.length === 0 ? null : new RegExp(needles.map(escapeRegExp).join('|'), 'g');
    }
    return this.#pattern;
  }
}

const NOTHING: ReadonlySet<PropertyKey> = new Set();

/** The ways a value can appear in a message: as it is, URL-encoded or -decoded, JSON-escaped. */
function spellings(value: string): Set<string> {
  const all = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]);
  try {
    all.add(decodeURIComponent(value));
  } catch {
    // Not percent-encoded: nothing else to add.
  }
  return all;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
