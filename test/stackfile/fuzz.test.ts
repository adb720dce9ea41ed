import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { MAX_DURATION_MS } from '../../src/stackfile/duration.js';
import { parseStack, StackFileError } from '../../src/stackfile/load.js';
import { COMPONENT_NAME, type Stack } from '../../src/stackfile/schema.js';

/**
 * Property-based tests of the loader's contract: whatever the text, parseStack returns a Stack or
 * throws a StackFileError (never a TypeError, RangeError or a zod error), every problem has a path,
 * a line inside the file and a one-line message, secrets never show, and an accepted stack keeps
 * every promise the type makes (names, dependencies, durations).
 */

const TIMEOUT = { timeout: 120_000 };
const SECRET = 'Zq7-S3cr3t-pw';
const ENV = {
  TOKEN: SECRET,
  DATABASE_URL: `postgres://corral:${SECRET}@db/corral`,
  PORT: '8080',
  GRACE: '5s',
};

type Outcome = { stack: Stack } | { error: StackFileError };

/** The contract itself: anything other than a Stack or a StackFileError fails the property. */
type Parse = (text: string) => Stack;

const realParse: Parse = (text) => parseStack(text, { env: ENV, sourceName: 'fuzz.yaml', baseDir: '/srv' });

function load(text: string, parse: Parse): Outcome {
  try {
    return { stack: parse(text) };
  } catch (error) {
    if (error instanceof StackFileError) return { error };
    throw error;
  }
}

function checkError(error: StackFileError, text: string): void {
  assert.ok(error.issues.length > 0, 'an error without issues');
  const lines = text.split('\n').length;
  for (const issue of error.issues) {
    assert.equal(typeof issue.path, 'string');
    assert.ok(issue.message.length > 0);
    assert.ok(!/[\n\r]/.test(issue.message), `a message on several lines: ${JSON.stringify(issue.message)}`);
    if (issue.line !== undefined)
      assert.ok(issue.line >= 1 && issue.line <= lines, `line ${issue.line} of ${lines}`);
  }
  assert.ok(!error.message.includes(SECRET), `the secret leaked:\n${error.message}`);
}

/** What an accepted stack promises, checked independently of the code that made it. */
function checkStack(stack: Stack): void {
  const names = stack.components.map((c) => c.name);
  assert.ok(names.length > 0);
  assert.equal(new Set(names).size, names.length);
  const durations: number[] = [stack.shutdown.timeout];
  const byName = new Map(stack.components.map((c) => [c.name, c]));
  for (const component of stack.components) {
    assert.match(component.name, COMPONENT_NAME);
    assert.ok(['process', 'envoy', 'coredns'].includes(component.kind));
    durations.push(component.stopTimeout);
    for (const dependency of component.dependsOn) {
      const target = byName.get(dependency);
      assert.ok(target, `unknown dependency ${dependency}`);
      assert.ok(!target.leader || component.leader, 'a follower depends on a leader component');
    }
    if (component.kind === 'process') {
      assert.ok(component.command.length > 0 && component.command[0] !== '');
      if (component.ready) {
        assert.ok(component.ready.interval > 0);
        durations.push(component.ready.interval, component.ready.timeout);
      }
      if (component.drain) {
        assert.ok(component.drain.min <= component.drain.timeout);
        durations.push(component.drain.min, component.drain.timeout);
      }
    }
  }
  for (const ms of durations)
    assert.ok(Number.isInteger(ms) && ms >= 0 && ms <= MAX_DURATION_MS, `duration ${ms}`);
  // No cycles: repeatedly remove components whose dependencies are all removed.
  const remaining = new Set(names);
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const name of remaining) {
      if ((byName.get(name)?.dependsOn ?? []).every((d) => !remaining.has(d))) {
        remaining.delete(name);
        progressed = true;
      }
    }
  }
  assert.equal(remaining.size, 0, `a dependency cycle among ${[...remaining].join(', ')}`);
}

function check(text: string, parse: Parse = realParse): Outcome {
  const outcome = load(text, parse);
  if ('error' in outcome) checkError(outcome.error, text);
  else checkStack(outcome.stack);
  return outcome;
}

const KEYS = [
  'components',
  'kind',
  'command',
  'shell',
  'env',
  'cwd',
  'user',
  'group',
  'stopSignal',
  'stopTimeout',
  'ready',
  'http',
  'tcp',
  'exec',
  'log',
  'status',
  'interval',
  'timeout',
  'restart',
  'maxRestarts',
  'window',
  'backoff',
  'base',
  'max',
  'dependsOn',
  'leader',
  'oneShot',
  'drain',
  'signal',
  'method',
  'url',
  'headers',
  'connections',
  'min',
  'output',
  'file',
  'binary',
  'bootstrap',
  'admin',
  'logLevel',
  'concurrency',
  'port',
  'upstream',
  'corefile',
  'workDir',
  'shutdown',
  'readiness',
  'metrics',
  'address',
  'leaderElection',
  'postgres',
  'name',
  'lease',
  'isolation',
  'pidNamespace',
  'app',
  'proxy',
  'db',
  '__proto__',
  'constructor',
  'x',
];

const SCALARS = [
  '10s',
  '500ms',
  '1m30s',
  '0s',
  '1.5h',
  '99999h',
  '10',
  'SIGTERM',
  'SIGUSR1',
  'TERM',
  'envoy',
  'coredns',
  'process',
  'nginx',
  'http://127.0.0.1:8080/ready',
  'http://u:pw@',
  '127.0.0.1:9902',
  '[::1]:80',
  ':0',
  'unix:/tmp/a.sock',
  'unix:',
  'log',
  'raw',
  '([a-z',
  '^ready$',
  '${TOKEN}',
  '${PORT}',
  '${GRACE:-1s}',
  '${UNSET}',
  '$${X}',
  '${1}',
  'true',
  'false',
  '',
  ' ',
  '\\x1b[2J',
  'a\nb',
  'postgres://a@b/c',
  'app',
  'proxy',
  'db',
];

/** YAML-significant fragments, glued at random: mostly broken documents, sometimes valid ones. */
const TOKENS = [
  ...KEYS.map((k) => `${k}:`),
  ...SCALARS,
  '\n',
  '\n  ',
  '\n    ',
  '\n      ',
  ' ',
  '- ',
  ': ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '|',
  '>-',
  '#',
  '---',
  '...',
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!str ',
  '!tag ',
  '? ',
  '%YAML 1.2\n',
  '\t',
  '~',
  'null',
  '0x1F',
  '-1',
  '1e9',
  '.inf',
  `env: { TOKEN: "${SECRET}" }`,
  `url: postgres://u:${SECRET}@db/x`,
];

const yamlishText = fc
  .array(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.string() }),
    {
      maxLength: 60,
    },
  )
  .map((parts) => parts.join(''));

/** Values of every type the schema meets, valid and not. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(...SCALARS),
    fc.integer({ min: -2, max: 70_000 }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Mostly `good`, sometimes anything at all: enough valid stacks to check, enough bad ones to report. */
function mostly<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 40, arbitrary: good }, { weight: 1, arbitrary: value });
}

const NAMES = ['app', 'proxy', 'db', 'edge', 'dns'] as const;
const optional = { requiredKeys: [] as [] };
const short = mostly(fc.constantFrom('0s', '250ms', '1s'));
const long = mostly(fc.constantFrom('1s', '2s', '1m30s', '${GRACE}'));
const address = mostly(fc.constantFrom('127.0.0.1:9901', '[::1]:80', 'localhost:53', '${PORT}', 9000));

const probe = mostly(
  fc.oneof(
    fc.record(
      { http: fc.constant('http://127.0.0.1:8080/ready'), status: fc.integer({ min: 200, max: 299 }) },
      optional,
    ),
    fc.record({ tcp: address, interval: long }),
    fc.record({ exec: fc.constant(['true']), timeout: long }),
    fc.record({ log: fc.constantFrom('^ready', 'listening on \\d+') }),
  ),
);

const drain = mostly(
  fc.record(
    {
      signal: fc.constantFrom('SIGUSR1', 'SIGTERM'),
      connections: fc.oneof(
        fc.record({ http: fc.constant('http://127.0.0.1:9000/c') }),
        fc.record({ exec: fc.constant(['cat', 'n']) }),
      ),
      min: short,
      timeout: long,
    },
    { requiredKeys: ['signal'] },
  ),
);

const restart = mostly(
  fc.record({ maxRestarts: fc.nat(10), backoff: fc.record({ base: short, max: long }, optional) }, optional),
);

const processSection = (dependsOn: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      command: mostly(fc.constantFrom(['node', 'server.js'], ['sleep', '5'])),
      stopSignal: mostly(fc.constantFrom('SIGTERM', 'SIGQUIT')),
      stopTimeout: long,
      ready: probe,
      drain,
      restart,
      dependsOn,
      oneShot: mostly(fc.boolean()),
      env: mostly(fc.constant({ TOKEN: '${TOKEN}', RAW: SECRET })),
    },
    { requiredKeys: ['command'] },
  );

const envoySection = (dependsOn: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      kind: fc.constant('envoy'),
      bootstrap: mostly(fc.constant('./envoy.yaml')),
      admin: mostly(fc.constantFrom('127.0.0.1:9901', 'unix:/tmp/admin.sock')),
      concurrency: mostly(fc.integer({ min: 1, max: 8 })),
      drain: mostly(fc.record({ min: short, timeout: long }, optional)),
      dependsOn,
    },
    { requiredKeys: ['kind', 'bootstrap'] },
  );

const corednsSection = (dependsOn: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      kind: fc.constant('coredns'),
      port: mostly(fc.integer({ min: 1, max: 65535 })),
      upstream: address,
      log: mostly(fc.boolean()),
      dependsOn,
    },
    { requiredKeys: ['kind'] },
  );

/**
 * Components whose dependencies mostly point at components declared before them (so the graph is
 * usually valid), and sometimes at anything: unknown names, themselves, later ones (cycles). Leaders
 * come last, so that followers rarely depend on them.
 */
const components = fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 }).chain((names) =>
  fc
    .tuple(
      ...names.map((name, i) => {
        const earlier = names.slice(0, i);
        const dependsOn = mostly(
          earlier.length === 0
            ? fc.constant<string[]>([])
            : fc.uniqueArray(fc.constantFrom<string>(...earlier), { maxLength: 2 }),
        );
        const spec = fc.oneof(
          { weight: 4, arbitrary: processSection(dependsOn) },
          envoySection(dependsOn),
          corednsSection(dependsOn),
        );
        const leader = i === names.length - 1 ? mostly(fc.boolean()) : mostly(fc.constant(false));
        return fc.tuple(mostly(fc.constant(name)), spec, leader);
      }),
    )
    .map((entries) =>
      Object.fromEntries(entries.map(([name, spec, leader]) => [asKey(name), { ...spec, leader }])),
    ),
);

/** A generated name as a map key: usually the name itself, sometimes any value written as JSON. */
function asKey(name: unknown): string {
  if (typeof name === 'string') return name;
  return name === undefined ? 'undefined' : JSON.stringify(name);
}

const stackObject = fc.record(
  {
    components: mostly(components),
    shutdown: mostly(fc.record({ timeout: long })),
    readiness: mostly(fc.record({ address }, optional)),
    leaderElection: mostly(
      fc.record({
        postgres: fc.record({ url: fc.constant('${DATABASE_URL}'), name: fc.constant('cp'), lease: long }),
      }),
    ),
    isolation: mostly(fc.record({ pidNamespace: fc.boolean() })),
    extra: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value }),
  },
  { requiredKeys: ['components'] },
);

describe('stack-file loader under fuzzing', () => {
  test('random YAML-ish text: a Stack or a StackFileError, nothing else', TIMEOUT, () => {
    fc.assert(
      fc.property(yamlishText, (text) => {
        check(text);
      }),
      { numRuns: 2000 },
    );
  });

  test('random structured documents serialized to YAML', TIMEOUT, () => {
    let accepted = 0;
    fc.assert(
      fc.property(stackObject, (document) => {
        const text = stringify(document);
        if ('stack' in check(text)) accepted += 1;
      }),
      { numRuns: 600 },
    );
    // The generator must also reach the success path, or the invariants above were never checked.
    assert.ok(accepted >= 30, `only ${accepted} of the generated stacks were valid`);
  });

  test('random edits of a valid file: every problem placed inside the file, no secret shown', TIMEOUT, () => {
    const full = parseYaml(
      readFileSync(fileURLToPath(new URL('./stack-files/full.yaml', import.meta.url)), 'utf8'),
    ) as Record<string, unknown>;
    // Secrets where the file keeps them: an env value, and the password of the connection string.
    const components = full.components as Record<string, Record<string, unknown>>;
    (components.app as Record<string, unknown>).env = { PORT: '8080', PASSWORD: SECRET, TOKEN: '${TOKEN}' };
    const paths = allPaths(full);
    const edit = fc.record({
      path: fc.constantFrom(...paths),
      action: fc.constantFrom('delete', 'replace', 'rename'),
      replacement: value,
      key: fc.constantFrom(...KEYS),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const copy = structuredClone(full);
        for (const e of edits) applyEdit(copy, e.path, e.action, e.replacement, e.key);
        check(stringify(copy));
      }),
      { numRuns: 600 },
    );
  });

  test(
    'deep nesting, where a recursive loader would overflow its stack, is a StackFileError',
    TIMEOUT,
    () => {
      for (const text of [`components: ${'['.repeat(5000)}`, `components:${'\n -'.repeat(3000)}`]) {
        assert.ok('error' in check(text));
      }
    },
  );

  test('negative controls: the properties catch a loader that breaks its contract', TIMEOUT, () => {
    // A parser that throws something else for some inputs…
    const throwsTypeError: Parse = (text) => {
      if (text.includes('{')) throw new TypeError('not a StackFileError');
      return realParse(text);
    };
    assert.throws(
      () => {
        fc.assert(fc.property(yamlishText, (text) => void check(text, throwsTypeError)));
      },
      (error: unknown) =>
        error instanceof Error && /not a StackFileError/.test(`${error.message} ${String(error.cause)}`),
    );
    // …or that shows a secret in its message…
    const leaks: Parse = () => {
      throw new StackFileError('fuzz.yaml', [
        { path: 'components.app.env.TOKEN', line: 1, message: `got ${SECRET}` },
      ]);
    };
    assert.throws(() => void check('x', leaks), /the secret leaked/);
    // …or that accepts a stack with a dependency cycle.
    const acceptsCycles: Parse = () =>
      ({
        shutdown: { timeout: 1000 },
        isolation: { pidNamespace: false },
        log: {},
        components: ['a', 'b'].map((name) => ({
          ...realParse('components: { x: { command: [x] } }').components[0],
          name,
          dependsOn: [name === 'a' ? 'b' : 'a'],
        })),
      }) as Stack;
    assert.throws(() => void check('x', acceptsCycles), /a dependency cycle among a, b/);
  });
});

type Path = readonly (string | number)[];

function allPaths(root: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(root)) root.forEach((item: unknown, i) => paths.push(...allPaths(item, [...prefix, i])));
  else if (root !== null && typeof root === 'object') {
    for (const [key, item] of Object.entries(root)) paths.push(...allPaths(item, [...prefix, key]));
  }
  return paths;
}

function applyEdit(root: unknown, path: Path, action: string, replacement: unknown, key: string): void {
  let parent: unknown = root;
  for (const segment of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return;
    parent = (parent as Record<string | number, unknown>)[segment];
  }
  const last = path[path.length - 1];
  if (parent === null || typeof parent !== 'object' || last === undefined) return;
  const container = parent as Record<string | number, unknown>;
  if (!(last in container)) return;
  if (action === 'replace') container[last] = replacement;
  else if (Array.isArray(container)) container.splice(Number(last), 1);
  else if (action === 'delete') Reflect.deleteProperty(container, last);
  else {
    Object.defineProperty(container, key, {
      value: container[last],
      enumerable: true,
      writable: true,
      configurable: true,
    });
    if (key !== last) Reflect.deleteProperty(container, last);
  }
}
