import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadStack, parseStack, StackFileError, type StackIssue } from '../../src/stackfile/load.js';
import { MAX_STACK_DEPTH } from '../../src/stackfile/yaml-depth.js';
import { cliForUser, userIds } from '../helpers/other-user.js';
import { renderStackJsonSchema } from '../../src/stackfile/json-schema.js';
import type { Stack } from '../../src/stackfile/schema.js';
import { Ajv } from 'ajv';
import { spawnSync } from 'node:child_process';

const FILES = fileURLToPath(new URL('./stack-files/', import.meta.url));
const SCHEMA_FILE = fileURLToPath(new URL('../../schema/corral.schema.json', import.meta.url));
const TIMEOUT = { timeout: 30_000 };

/** Runs `fn`, which must throw a StackFileError, and returns it. */
function stackError(fn: () => unknown): StackFileError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof StackFileError, `expected a StackFileError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a StackFileError, but the stack was accepted');
}

async function loadError(path: string, env: Record<string, string> = {}): Promise<StackFileError> {
  try {
    await loadStack(path, { env });
  } catch (error) {
    assert.ok(error instanceof StackFileError, `expected a StackFileError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected a StackFileError for ${path}`);
}

function at(error: StackFileError, path: string): StackIssue {
  const issue = error.issues.find((i) => i.path === path);
  assert.ok(issue, `no issue at ${path}; got:\n${error.message}`);
  return issue;
}

const file = (name: string) => join(FILES, name);

describe('valid stack files', () => {
  test('the full example parses to the normalized stack', TIMEOUT, async () => {
    const env = { DATABASE_URL: 'postgres://corral:hunter2@127.0.0.1:5432/corral', TOKEN: 't0ken' };
    const stack = await loadStack(file('full.yaml'), { env });
    const expected: Stack = {
      workDir: file('run'),
      shutdown: { timeout: 45_000 },
      readiness: { address: { host: '127.0.0.1', port: 9902 } },
      metrics: { address: { host: '127.0.0.1', port: 9903 } },
      leaderElection: {
        postgres: {
          url: env.DATABASE_URL,
          name: 'corral-demo',
          lease: 5000,
          renewDeadline: 4000,
          renewInterval: 1000,
          retry: 500,
          sessionLock: true,
          table: 'corral.leader',
        },
      },
      isolation: { pidNamespace: true },
      log: { format: 'json', level: 'debug' },
      components: [
        {
          name: 'dns',
          kind: 'coredns',
          binary: 'coredns',
          port: 15053,
          upstream: { host: '127.0.0.1', port: 15054 },
          log: true,
          prometheusAddress: { host: '127.0.0.1', port: 19153 },
          readyAddress: { host: '127.0.0.1', port: 8181 },
          dependsOn: [],
          leader: false,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'log' },
        },
        {
          name: 'envoy',
          kind: 'envoy',
          binary: '/usr/local/bin/envoy',
          bootstrap: file('envoy.yaml'),
          admin: { socketPath: file('admin.sock') },
          logLevel: 'warning',
          componentLogLevel: 'upstream:debug,connection:trace',
          concurrency: 2,
          drain: { min: 1000, timeout: 30_000 },
          dependsOn: ['dns'],
          leader: false,
          env: {},
          stopTimeout: 5000,
          output: { mode: 'log' },
        },
        {
          name: 'proxy',
          kind: 'process',
          command: ['node', 'proxy.js'],
          stopSignal: 'SIGTERM',
          drain: {
            trigger: {
              kind: 'http',
              method: 'POST',
              url: 'http://127.0.0.1:9000/drain',
              headers: { Authorization: 'Bearer t0ken' },
            },
            connections: { kind: 'exec', command: ['sh', '-c', 'cat /tmp/connections'] },
            min: 1000,
            timeout: 90_000,
          },
          oneShot: false,
          dependsOn: [],
          leader: false,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'log' },
        },
        {
          name: 'app',
          kind: 'process',
          command: ['node', 'server.js'],
          stopSignal: 'SIGQUIT',
          ready: { http: 'http://127.0.0.1:8080/healthz', status: 204, interval: 100, timeout: 20_000 },
          restart: { maxRestarts: 3, window: 120_000, backoff: { base: 500, max: 10_000 } },
          oneShot: false,
          dependsOn: ['proxy', 'envoy'],
          leader: false,
          // `$${` is the escape for a literal `${`.
          env: { PORT: '8080', GREETING: '${NOT_A_VAR}' },
          cwd: file('app'),
          user: 1000,
          group: 'nogroup',
          stopTimeout: 10_000,
          output: { mode: 'file', file: file('logs/app.log') },
        },
        {
          name: 'migrate',
          kind: 'process',
          command: ['/bin/sh', '-c', 'node migrate.js && echo done'],
          stopSignal: 'SIGTERM',
          ready: { log: /^migrated \d+ tables$/, interval: 250, timeout: 60_000 },
          oneShot: true,
          dependsOn: [],
          leader: false,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'raw' },
        },
        {
          name: 'reconciler',
          kind: 'process',
          command: ['node', 'reconcile.js'],
          stopSignal: 'SIGTERM',
          ready: { tcp: { host: '127.0.0.1', port: 7070 }, interval: 250, timeout: 60_000 },
          oneShot: false,
          dependsOn: ['migrate'],
          leader: true,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'log' },
        },
        {
          name: 'cleanup',
          kind: 'process',
          command: ['node', 'cleanup.js'],
          stopSignal: 'SIGTERM',
          ready: { exec: ['test', '-f', '/tmp/ready'], interval: 250, timeout: 60_000 },
          oneShot: false,
          dependsOn: [],
          leader: true,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'log' },
        },
      ],
    };
    assert.deepEqual(stack, expected);
  });

  test("issue 4's example parses, with every default filled in", TIMEOUT, async () => {
    const stack = await loadStack(file('issue-example.yaml'), { env: {} });
    assert.deepEqual(
      stack.components.map((c) => [c.name, c.kind, c.stopTimeout, c.dependsOn]),
      [
        ['proxy', 'process', 10_000, []],
        ['app', 'process', 10_000, ['proxy']],
      ],
    );
    const [proxy, app] = stack.components;
    assert.ok(proxy?.kind === 'process' && app?.kind === 'process');
    assert.deepEqual(proxy.drain, {
      trigger: { kind: 'signal', signal: 'SIGUSR1' },
      connections: { kind: 'http', url: 'http://127.0.0.1:9000/connections' },
      min: 1000,
      timeout: 30_000,
    });
    assert.deepEqual(app.restart, { maxRestarts: 5, window: 60_000, backoff: { base: 1000, max: 30_000 } });
    assert.deepEqual(app.ready, { http: 'http://127.0.0.1:8080/healthz', interval: 250, timeout: 60_000 });
    assert.equal(stack.shutdown.timeout, 60_000);
  });

  test('a minimal file gets the defaults', TIMEOUT, () => {
    const stack = parseStack('components:\n  app:\n    command: [node, server.js]\n', {
      env: {},
      baseDir: '/srv',
    });
    assert.deepEqual(stack, {
      shutdown: { timeout: 60_000 },
      isolation: { pidNamespace: false },
      log: {},
      components: [
        {
          name: 'app',
          kind: 'process',
          command: ['node', 'server.js'],
          stopSignal: 'SIGTERM',
          oneShot: false,
          dependsOn: [],
          leader: false,
          env: {},
          stopTimeout: 10_000,
          output: { mode: 'log' },
        },
      ],
    });
  });

  test('sections given empty get their default addresses, on loopback', TIMEOUT, () => {
    const stack = parseStack(
      'readiness: {}\nmetrics: { address: 0 }\ncomponents:\n  e: { kind: envoy, bootstrap: /etc/envoy.yaml }\n',
      { env: {} },
    );
    assert.deepEqual(stack.readiness, { address: { host: '127.0.0.1', port: 9902 } });
    assert.deepEqual(stack.metrics, { address: { host: '127.0.0.1', port: 0 } });
    const [envoy] = stack.components;
    assert.ok(envoy?.kind === 'envoy');
    assert.deepEqual(envoy.admin, { host: '127.0.0.1', port: 9901 });
    assert.deepEqual(envoy.drain, { min: 0, timeout: 30_000 });
    assert.equal(envoy.logLevel, 'info');
  });

  test('durations: units, sums and fractions', TIMEOUT, () => {
    const timeouts = ['500ms', '10s', '1m', '1h', '1m30s', '1.5s', '0s'].map(
      (t) =>
        parseStack(`shutdown: { timeout: ${t} }\ncomponents: { a: { command: [x] } }\n`, { env: {} }).shutdown
          .timeout,
    );
    assert.deepEqual(timeouts, [500, 10_000, 60_000, 3_600_000, 90_000, 1500, 0]);
  });

  test(
    'YAML anchors and merge keys work, and problems in merged values point at their source',
    TIMEOUT,
    () => {
      const text = [
        'components:',
        '  a: &base { command: [x], stopTimeout: 3s, stopSignal: SIGINT }',
        '  b:',
        '    <<: *base',
        '    command: [y]',
        '    stopTimeout: 4s',
      ].join('\n');
      const stack = parseStack(text, { env: {} });
      assert.deepEqual(
        stack.components.map((c) => [
          c.name,
          c.kind === 'process' ? c.command : [],
          c.stopTimeout,
          c.kind === 'process' ? c.stopSignal : '',
        ]),
        [
          ['a', ['x'], 3000, 'SIGINT'],
          ['b', ['y'], 4000, 'SIGINT'],
        ],
      );
      const error = stackError(() => parseStack(text.replace('SIGINT', 'INT'), { env: {} }));
      assert.deepEqual(
        error.issues.map((i) => [i.path, i.line]),
        [
          ['components.a.stopSignal', 2],
          ['components.b.stopSignal', 2],
        ],
      );
    },
  );
});

/**
 * Each bad-*.yaml file and the problem it must be reported with: [file, path, line, part of the
 * message]. The line is also marked in the file itself with `# <- error`.
 */
const MALFORMED: readonly (readonly [string, string, number, string])[] = [
  ['command-and-shell', 'components.app.shell', 4, 'cannot be combined with "command": give'],
  ['command-empty', 'components.app.command', 3, 'must not be empty'],
  ['command-number', 'components.app.command[1]', 5, 'expected a string, got 5 (quote it: "5")'],
  ['command-string', 'components.app.command', 3, 'expected a list like [node, server.js], got'],
  ['component-name', 'components.My_App', 2, 'invalid name "My_App": use lowercase'],
  ['coredns-corefile', 'components.dns.port', 5, '"port" has no effect with "corefile", which'],
  ['coredns-upstream', 'components.dns.upstream', 4, 'expected host:port, got "8.8.8.8": no port'],
  ['depends-cycle', 'components.b.dependsOn[0]', 7, 'dependency cycle: a -> b -> a'],
  ['depends-leader', 'components.app.dependsOn[0]', 7, '"reconciler" is a leader component, so'],
  ['depends-self', 'components.app.dependsOn[0]', 4, '"app" cannot depend on itself'],
  ['depends-string', 'components.app.dependsOn', 6, 'expected a list, got "proxy"'],
  ['depends-unknown', 'components.app.dependsOn[0]', 5, 'unknown component "db" (components: "app")'],
  [
    'drain-connections',
    'components.proxy.drain.connections.exec',
    8,
    'cannot be combined with "http": give only',
  ],
  ['drain-method', 'components.proxy.drain.http.method', 6, 'expected one of "POST", "PUT", "GET",'],
  ['drain-min', 'components.proxy.drain.min', 6, 'min (60s) must not be longer than timeout'],
  ['drain-trigger', 'components.proxy.drain', 4, 'needs one of "signal", "http"'],
  ['duration-number', 'components.app.stopTimeout', 4, 'expected a duration like "10s", got 10'],
  ['duration-too-long', 'shutdown.timeout', 2, "must be at most 596h (Node's timer limit),"],
  ['duration-unit', 'components.app.stopTimeout', 4, 'expected a duration like "10s" (units: ms,'],
  ['empty-components', 'components', 2, 'needs at least one component'],
  ['env-name', 'components.app.env["A=B"]', 5, 'invalid name "A=B": an environment variable'],
  ['env-number', 'components.app.env.PORT', 6, 'expected a string, got a number (quote it)'],
  ['envoy-admin', 'components.envoy.admin', 5, 'expected host:port or unix:/path, got'],
  ['envoy-bootstrap', 'components.envoy.bootstrap', 2, 'is required but missing'],
  ['envoy-concurrency', 'components.envoy.concurrency', 5, 'must be at least 1, got 0'],
  ['envoy-log-level', 'components.envoy.logLevel', 5, 'expected one of "trace", "debug", "info",'],
  ['envoy-process-key', 'components.envoy.command', 5, 'unknown key "command"'],
  ['interpolation-syntax', 'components.app.command[1]', 3, 'invalid variable reference: expected'],
  ['interpolation-unset', 'components.app.stopTimeout', 4, 'environment variable STOP_TIMEOUT is not'],
  ['isolation', 'isolation.pidNamespace', 2, 'expected true or false, got "yes"'],
  ['leader-name', 'leaderElection.postgres.name', 2, 'is required but missing'],
  ['leader-renew', 'leaderElection.postgres.renewInterval', 6, 'must be shorter than lease'],
  ['leader-url', 'leaderElection.postgres.url', 3, 'expected a postgres:// or postgresql:// URL'],
  ['log-format', 'log.format', 2, 'expected one of "pretty", "json", got "xml"'],
  ['metrics-ipv6', 'metrics.address', 2, 'expected host:port or a port, got'],
  ['missing-components', 'components', 1, 'is required but missing'],
  ['no-command', 'components.app', 2, 'needs one of "command", "shell"'],
  ['not-a-map', 'components.app', 2, 'expected a map, got "node server.js"'],
  ['one-shot', 'components.migrate.oneShot', 4, 'expected true or false, got "maybe"'],
  ['output', 'components.app.output', 4, 'expected "log", "raw" or { file: <path> }'],
  ['readiness-port', 'readiness.address', 2, 'expected host:port or a port, got'],
  ['ready-interval', 'components.app.ready.interval', 6, 'must be more than 0, got "0s"'],
  ['ready-none', 'components.app.ready', 4, 'needs one of "http", "tcp", "exec", "log"'],
  ['ready-regex', 'components.app.ready.log', 5, 'not a valid regular expression: Invalid'],
  ['ready-status', 'components.app.ready.status', 6, '"status" applies only to an "http" probe'],
  ['ready-tcp', 'components.app.ready.tcp', 5, 'expected host:port or a port, got'],
  ['ready-two', 'components.app.ready.tcp', 6, 'cannot be combined with "http": give only'],
  ['ready-url', 'components.app.ready.http', 5, 'expected an http:// or https:// URL, got'],
  ['recursive-alias', 'components.app.command[1]', 3, 'an alias refers to a structure that'],
  [
    'restart-backoff',
    'components.app.restart.backoff.base',
    6,
    'base (60s) must not be longer than max (10s)',
  ],
  ['restart-negative', 'components.app.restart.maxRestarts', 5, 'must be at least 0, got -1'],
  ['root-list', '', 1, 'expected a map, got a list'],
  ['same-address', 'metrics.address', 4, 'is the same as readiness.address'],
  ['stop-signal', 'components.app.stopSignal', 4, 'expected a signal name like "SIGTERM", got'],
  ['unknown-component-key', 'components.app.stopTimout', 4, 'unknown key "stopTimout" (did you mean'],
  ['unknown-kind', 'components.web.kind', 3, 'expected one of "process", "envoy",'],
  ['unknown-top-key', 'shutdwn', 1, 'unknown key "shutdwn" (did you mean'],
  ['user', 'components.app.user', 4, 'expected a name or a numeric id, got "web'],
  ['workdir-empty', 'workDir', 1, 'must not be empty'],
  ['yaml-duplicate', 'components.app', 4, 'duplicate key "app": a key may appear only'],
  ['yaml-multiple-docs', '', 4, 'a stack file holds a single YAML document;'],
];

describe('malformed stack files', () => {
  test('every bad-*.yaml file is in the table, and every row has its file', TIMEOUT, () => {
    const onDisk = readdirSync(FILES)
      .filter((name) => name.startsWith('bad-'))
      .map((name) => name.slice('bad-'.length, -'.yaml'.length))
      .sort();
    assert.deepEqual(onDisk, MALFORMED.map(([name]) => name).sort());
    assert.ok(MALFORMED.length >= 40);
  });

  for (const [name, path, line, fragment] of MALFORMED) {
    test(`bad-${name}.yaml: ${path || '(document)'} line ${line}`, TIMEOUT, async () => {
      const source = file(`bad-${name}.yaml`);
      // The table and the file agree on the line.
      assert.match(readFileSync(source, 'utf8').split('\n')[line - 1] ?? '', /# <- error/);
      const error = await loadError(source);
      assert.equal(error.code, 'STACK_INVALID');
      assert.equal(error.file, source);
      const issue = error.issues.find((i) => i.path === path && i.line === line);
      assert.ok(issue, `no issue at ${path} line ${line}; got:\n${error.message}`);
      assert.ok(issue.message.includes(fragment), `"${issue.message}" does not include "${fragment}"`);
      const where = path === '' ? `line ${line}` : `${path} (line ${line})`;
      assert.ok(error.message.includes(`\n  ${where}: ${issue.message}`), error.message);
    });
  }
});

/**
 * Malformed YAML kept inline rather than as bad-*.yaml files, because Prettier (which checks every
 * YAML file of the repository) cannot parse these.
 */
describe('YAML that Prettier cannot parse either', () => {
  const CASES: [string, string, string, number, string][] = [
    [
      'an unclosed flow sequence',
      'components:\n  app:\n    command: [node, server.js\n    stopTimeout: 10s\n',
      'components.app.stopTimeout',
      4,
      'invalid YAML: Flow sequence in block collection must be sufficiently indented',
    ],
    [
      'a tab as indentation',
      'components:\n  app:\n\tcommand: [node, server.js]\n',
      '',
      3,
      'invalid YAML: Tabs are not allowed as indentation',
    ],
    [
      'an unclosed quote',
      'components:\n  app:\n    command: ["node]\n',
      '',
      4,
      'invalid YAML: Missing closing "quote',
    ],
    [
      'a bad indentation',
      'components:\n  app:\n    command: [x]\n   stopTimeout: 1s\n',
      'components',
      4,
      'invalid YAML: All mapping items must start at the same column',
    ],
    [
      'a list as a key',
      'components:\n  app:\n    command: [node, server.js]\n    ? [stopTimeout]\n    : 10s\n',
      'components.app',
      4,
      'a key must be a plain name, not a map or a list',
    ],
  ];
  for (const [what, text, path, line, fragment] of CASES) {
    test(`${what}: ${path || '(document)'} line ${line}`, TIMEOUT, () => {
      const error = stackError(() => parseStack(text, { env: {}, sourceName: 'corral.yaml' }));
      assert.equal(error.code, 'STACK_INVALID');
      const issue = error.issues.find((i) => i.path === path && i.line === line);
      assert.ok(issue, `no issue at ${path} line ${line}; got:\n${error.message}`);
      assert.ok(issue.message.startsWith(fragment), issue.message);
    });
  }
});

describe('several problems', () => {
  test('are all reported at once, in line order', TIMEOUT, () => {
    const text = [
      'shutdown:',
      '  timeout: 60', // 2
      'components:',
      '  app:',
      '    command: [node, server.js]',
      '    stopTimeout: 10', // 6
      '    dependsOn: [db]', // 7
      '    ready: { http: nope }', // 8
      '  proxy:',
      '    kind: process',
      '    drain: { signal: SIGUSR1, min: 40s, timeout: 30s }', // 11
      '    colour: blue', // 12
    ].join('\n');
    const error = stackError(() => parseStack(text, { env: {}, sourceName: 'corral.yaml' }));
    assert.deepEqual(
      error.issues.map((i) => [i.path, i.line]),
      [
        ['shutdown.timeout', 2],
        ['components.app.stopTimeout', 6],
        ['components.app.dependsOn[0]', 7],
        ['components.app.ready.http', 8],
        ['components.proxy.drain.min', 11],
        ['components.proxy.colour', 12],
        // proxy has no command: reported at the component's key.
        ['components.proxy', 9],
      ].sort((a, b) => Number(a[1]) - Number(b[1])),
    );
    const lines = error.message.split('\n');
    assert.equal(lines[0], 'invalid stack file corral.yaml (7 problems):');
    assert.equal(lines[2], '  components.app.stopTimeout (line 6): expected a duration like "10s", got 10');
    assert.equal(lines.length, 8);
  });

  test('a long list is cut in the message but kept whole in issues', TIMEOUT, () => {
    const components = Array.from({ length: 60 }, (_, i) => `  c${i}: { command: [x], stopTimeout: ${i} }`);
    const error = stackError(() => parseStack(`components:\n${components.join('\n')}\n`, { env: {} }));
    assert.equal(error.issues.length, 60);
    assert.match(error.message, /… and 10 more$/);
  });

  test('dependency cycles are each named, whatever their length', TIMEOUT, () => {
    const chain = Array.from(
      { length: 2000 },
      (_, i) => `  c${i}: { command: [x], dependsOn: [c${(i + 1) % 2000}] }`,
    );
    const error = stackError(() => parseStack(`components:\n${chain.join('\n')}\n`, { env: {} }));
    assert.equal(error.issues.length, 1);
    const [issue] = error.issues;
    assert.ok(issue);
    assert.equal(issue.path, 'components.c1999.dependsOn[0]');
    assert.match(issue.message, /^dependency cycle: c0 -> c1 -> .* -> c1999 -> c0$/);
  });
});

describe('${VAR} interpolation', () => {
  const app = (line: string) => `components:\n  app:\n    command: [node, server.js]\n    ${line}\n`;

  test('reads the given env, with defaults for unset or empty variables', TIMEOUT, () => {
    const text = app(
      'env: { A: "${A}", B: "${B:-fallback}", C: "${C:-fallback}", D: "${D:-}", E: "x${A}y${A}z" }',
    );
    const stack = parseStack(text, { env: { A: 'one', C: '' } });
    assert.deepEqual(stack.components[0]?.env, {
      A: 'one',
      B: 'fallback',
      C: 'fallback',
      D: '',
      E: 'xoneyonez',
    });
  });

  test('a set but empty variable without a default gives ""', TIMEOUT, () => {
    const stack = parseStack(app('env: { A: "${A}" }'), { env: { A: '' } });
    assert.deepEqual(stack.components[0]?.env, { A: '' });
  });

  test('$${ is a literal ${, and a lone $ stays', TIMEOUT, () => {
    const stack = parseStack(app('env: { A: "$${A}", B: "cost: $5", C: "$$" }'), { env: { A: 'x' } });
    assert.deepEqual(stack.components[0]?.env, { A: '${A}', B: 'cost: $5', C: '$$' });
  });

  test('numbers, booleans and durations can come from variables', TIMEOUT, () => {
    const text = [
      'shutdown: { timeout: "${GRACE:-30s}" }',
      'components:',
      '  dns: { kind: coredns, port: "${DNS_PORT}", log: "${DNS_LOG}" }',
      '  app: { command: [x], leader: "${LEADER}", restart: { maxRestarts: "${MAX:-7}" } }',
    ].join('\n');
    const stack = parseStack(text, { env: { DNS_PORT: '5353', DNS_LOG: 'true', LEADER: 'false' } });
    const [dns, app2] = stack.components;
    assert.equal(stack.shutdown.timeout, 30_000);
    assert.ok(dns?.kind === 'coredns' && app2?.kind === 'process');
    assert.equal(dns.port, 5353);
    assert.equal(dns.log, true);
    assert.equal(app2.leader, false);
    assert.equal(app2.restart?.maxRestarts, 7);
  });

  test('a value is never parsed as YAML, and keys are never substituted', TIMEOUT, () => {
    const stack = parseStack(
      'components:\n  app:\n    command: [echo, "${LIST}"]\n    env: { "${KEY}": v }\n',
      {
        env: { LIST: '[a, b]\nkind: envoy', KEY: 'NOPE' },
      },
    );
    const [app] = stack.components;
    assert.ok(app?.kind === 'process');
    assert.deepEqual(app.command, ['echo', '[a, b]\nkind: envoy']);
    assert.deepEqual(app.env, { '${KEY}': 'v' });
  });

  test('an unset variable is an error naming the path, the line and the variable', TIMEOUT, () => {
    const error = stackError(() => parseStack(app('stopTimeout: ${GRACE}'), { env: {} }));
    assert.equal(error.issues.length, 1, 'reported once, not again as a bad duration');
    const issue = at(error, 'components.app.stopTimeout');
    assert.equal(issue.line, 4);
    assert.match(issue.message, /environment variable GRACE is not set/);
  });

  test('every unset variable is reported', TIMEOUT, () => {
    const text = app('env: { A: "${ONE}", B: "${TWO}" }\n    cwd: ${THREE}');
    const error = stackError(() => parseStack(text, { env: {} }));
    assert.deepEqual(
      error.issues.map((i) => i.message.replace(/ is not set.*/, '')),
      ['environment variable ONE', 'environment variable TWO', 'environment variable THREE'],
    );
  });

  test('a substituted value is validated like a written one', TIMEOUT, () => {
    const error = stackError(() => parseStack(app('stopTimeout: ${GRACE}'), { env: { GRACE: '10' } }));
    // Validated, but not shown: a variable may hold a secret, so the message names the reference.
    assert.equal(
      at(error, 'components.app.stopTimeout').message,
      'expected a duration like "10s" (units: ms, s, m, h), got the value of "${GRACE}" (not shown)',
    );
  });

  test('defaults to process.env', TIMEOUT, () => {
    process.env.CORRAL_STACK_TEST_TIMEOUT = '7s';
    try {
      assert.equal(
        parseStack(app('stopTimeout: ${CORRAL_STACK_TEST_TIMEOUT}')).components[0]?.stopTimeout,
        7000,
      );
    } finally {
      delete process.env.CORRAL_STACK_TEST_TIMEOUT;
    }
  });
});

describe('secrets stay out of messages', () => {
  const SECRET = 'hunter2-S3cr3t';

  function assertNoSecret(error: StackFileError, secret = SECRET) {
    assert.ok(!error.message.includes(secret), error.message);
    assert.ok(!JSON.stringify(error.issues).includes(secret), JSON.stringify(error.issues));
  }

  test('an env value of the wrong type is described, not shown', TIMEOUT, () => {
    const error = stackError(() =>
      parseStack(
        'components:\n  app:\n    command: [x]\n    env: { PIN: 48151623, LIST: [hunter2-S3cr3t] }\n',
        { env: {} },
      ),
    );
    assert.equal(at(error, 'components.app.env.PIN').message, 'expected a string, got a number (quote it)');
    assert.equal(at(error, 'components.app.env.LIST').message, 'expected a string, got a list');
    assertNoSecret(error, '48151623');
    assertNoSecret(error);
  });

  test('negative control: the same value outside env is shown', TIMEOUT, () => {
    const error = stackError(() =>
      parseStack('components:\n  app:\n    command: [x]\n    cwd: 48151623\n', { env: {} }),
    );
    assert.match(error.message, /48151623/);
  });

  test('a substituted secret does not leak through other problems', TIMEOUT, () => {
    const text = [
      'leaderElection:',
      '  postgres: { url: "${DATABASE_URL}", name: cp, lease: 1 }',
      'components:',
      '  app:',
      '    command: [x]',
      '    env: { TOKEN: "${TOKEN}" }',
      '    stopTimeout: 1',
      '    drain: { http: { url: "http://127.0.0.1/drain", headers: { Authorization: 7 } } }',
    ].join('\n');
    const error = stackError(() =>
      parseStack(text, { env: { DATABASE_URL: `postgres://corral:${SECRET}@db/corral`, TOKEN: SECRET } }),
    );
    assert.equal(error.issues.length, 3);
    assert.equal(
      at(error, 'components.app.drain.http.headers.Authorization').message,
      'expected a string, got a number (quote it)',
    );
    assertNoSecret(error);
  });

  test('the PostgreSQL URL is never shown, valid or not', TIMEOUT, () => {
    for (const url of [
      `mysql://corral:${SECRET}@db/corral`,
      `not a url ${SECRET}`,
      `postgres://corral:${SECRET}@db:99999999/x`,
    ]) {
      const text = `leaderElection:\n  postgres: { url: "${url}", name: cp, lease: 5s }\ncomponents: { a: { command: [x] } }\n`;
      let error: StackFileError | undefined;
      try {
        parseStack(text, { env: {} });
      } catch (caught) {
        assert.ok(caught instanceof StackFileError);
        error = caught;
      }
      if (error) assertNoSecret(error);
    }
    const typed = stackError(() =>
      parseStack(
        'leaderElection:\n  postgres: { url: 5432, name: cp }\ncomponents: { a: { command: [x] } }\n',
        { env: {} },
      ),
    );
    assert.equal(
      at(typed, 'leaderElection.postgres.url').message,
      'expected a string, got a number (quote it)',
    );
  });

  test('URL credentials and queries are masked wherever a URL is echoed', TIMEOUT, () => {
    const error = stackError(() =>
      parseStack(
        `components:\n  app:\n    command: [x]\n    ready: { http: "ftp://probe:${SECRET}@127.0.0.1/healthz?token=${SECRET}" }\n`,
        {
          env: {},
        },
      ),
    );
    assert.equal(
      at(error, 'components.app.ready.http').message,
      'expected an http:// or https:// URL, got "ftp://***@127.0.0.1/healthz?token=***"',
    );
    assertNoSecret(error);
  });

  test('a value from a variable is never shown, wherever it lands', TIMEOUT, () => {
    const text = [
      'components:',
      '  app:',
      '    command: "${TOKEN}"', // a list is expected
      '    ready: { log: "${TOKEN}(" }', // not a regular expression
      '    stopTimeout: "${TOKEN}"', // not a duration
      '    dependsOn: ["${TOKEN}"]', // not a component
      '  "${TOKEN}": { command: [x] }', // keys are not substituted: shown as written
    ].join('\n');
    const error = stackError(() => parseStack(text, { env: { TOKEN: SECRET } }));
    assert.equal(error.issues.length, 5, error.message);
    assert.equal(
      at(error, 'components.app.command').message,
      'expected a list like [node, server.js], got the value of "${TOKEN}" (not shown)',
    );
    assert.equal(at(error, 'components.app.ready.log').message, 'not a valid regular expression');
    assertNoSecret(error);
  });

  test('negative control: without the variable, the same literal is shown', TIMEOUT, () => {
    const error = stackError(() =>
      parseStack(`components:\n  app:\n    command: "${SECRET}"\n`, { env: {} }),
    );
    assert.match(error.message, new RegExp(SECRET));
  });

  test('YAML syntax errors do not quote the source', TIMEOUT, () => {
    for (const text of [
      `components:\n  app:\n    env:\n      PASSWORD: "${SECRET}\\q"\n`,
      `components:\n  app:\n    env:\n      PASSWORD: |x ${SECRET}\n        text\n`,
      `components:\n  app:\n    env: { PASSWORD: "${SECRET}" ] }\n`,
      `components:\n  app:\n    env:\n      PASSWORD: "${SECRET}\n`,
      `components:\n  app:\n    ? { env: { PASSWORD: "${SECRET}" } }\n    : x\n`,
    ]) {
      const error = stackError(() => parseStack(text, { env: {} }));
      assert.ok(error.issues.length > 0);
      assertNoSecret(error);
    }
  });
});

describe('files that cannot be read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-stack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing file', TIMEOUT, async () => {
    const error = await loadError(join(dir, 'corral.yaml'));
    assert.equal(error.code, 'STACK_UNREADABLE');
    assert.equal(
      error.message,
      `invalid stack file ${join(dir, 'corral.yaml')} (1 problem):\n  cannot read the file: no such file`,
    );
  });

  test('a directory', TIMEOUT, async () => {
    const error = await loadError(dir);
    assert.equal(error.code, 'STACK_UNREADABLE');
    assert.match(error.message, /not a regular file/);
  });

  test('a file without read permission', TIMEOUT, async () => {
    const path = join(dir, 'secret.yaml');
    writeFileSync(path, 'components: {}\n');
    chmodSync(path, 0o000);
    if (process.getuid?.() !== 0) {
      const error = await loadError(path);
      assert.equal(error.code, 'STACK_UNREADABLE');
      assert.match(error.message, /permission denied/);
      return;
    }
    // Root reads any file: ask the loader, through the CLI, as an unprivileged user instead, from
    // a copy of the CLI it can reach wherever the checkout lies.
    const cli = cliForUser('nobody');
    try {
      chmodSync(dir, 0o755);
      const { uid, gid } = userIds('nobody');
      const run = spawnSync(
        'setpriv',
        [
          `--reuid=${uid}`,
          `--regid=${gid}`,
          '--clear-groups',
          process.execPath,
          cli.path('bin/corral.js'),
          'check',
          '-f',
          path,
        ],
        { encoding: 'utf8', cwd: cli.dir },
      );
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /cannot read the file: permission denied/);
    } finally {
      cli.cleanup();
    }
  });

  test('a FIFO: check and run refuse it at once instead of waiting for a writer', TIMEOUT, () => {
    const path = join(dir, 'fifo.yaml');
    const made = spawnSync('mkfifo', [path], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const cli = fileURLToPath(new URL('../../bin/corral.js', import.meta.url));
    for (const command of ['check', 'run']) {
      // A bound of its own: on failure the child blocks forever, and must not outlive the test.
      const run = spawnSync(process.execPath, [cli, command, '-f', path], {
        encoding: 'utf8',
        timeout: 15_000,
        killSignal: 'SIGKILL',
      });
      assert.equal(run.signal, null, `corral ${command} hung on a FIFO`);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /not a regular file/);
    }
  });

  test('a file larger than 1 MiB', TIMEOUT, async () => {
    const path = join(dir, 'huge.yaml');
    writeFileSync(path, `# ${'x'.repeat(1024 * 1024)}\n`);
    const error = await loadError(path);
    assert.equal(error.code, 'STACK_UNREADABLE');
    assert.match(error.message, /larger than 1024 KiB/);
  });

  test('nesting deeper than the limit is refused by name, at its line, whatever the style', TIMEOUT, () => {
    const deep = 5000;
    for (const [text, line] of [
      [`components:\n  a:\n    command: [x]\n    env: ${'['.repeat(deep)}${']'.repeat(deep)}\n`, 4],
      [`components:\n  a:\n    command: [x]\n    env: ${'{a: '.repeat(deep)}1${'}'.repeat(deep)}\n`, 4],
      [`components:\n  a:\n    command: [x]\n    env:\n      ${'- '.repeat(deep)}x\n`, 5],
      [`${'['.repeat(deep)}${']'.repeat(deep)}\n`, 1],
    ] as const) {
      const error = stackError(() => parseStack(text, { env: {} }));
      assert.equal(error.code, 'STACK_INVALID');
      assert.deepEqual(
        error.issues.map((i) => [i.line, i.message]),
        [[line, `nested more than ${MAX_STACK_DEPTH} levels deep`]],
      );
    }
    // Exactly at the limit: the file, its components, `a`, and `env` count four of the levels.
    const env = (levels: number) =>
      `components:\n  a:\n    command: [x]\n    env: ${'{a: '.repeat(levels - 3)}1${'}'.repeat(levels - 3)}\n`;
    assert.match(
      stackError(() => parseStack(env(MAX_STACK_DEPTH), { env: {} })).message,
      /components\.a\.env\.a \(line 4\): expected a string, got a map/,
    );
    assert.match(
      stackError(() => parseStack(env(MAX_STACK_DEPTH + 1), { env: {} })).message,
      new RegExp(`line 4: nested more than ${MAX_STACK_DEPTH} levels deep$`),
    );
  });

  test('an empty file, and one with only comments', TIMEOUT, () => {
    for (const text of ['', '# nothing here\n']) {
      const error = stackError(() => parseStack(text, { env: {} }));
      assert.equal(error.code, 'STACK_INVALID');
      assert.match(error.message, /the file is empty/);
    }
  });

  test('relative paths resolve against the stack file, not the working directory', TIMEOUT, async () => {
    const path = join(dir, 'paths.yaml');
    writeFileSync(path, 'workDir: run\ncomponents:\n  app: { command: [x], cwd: ../srv }\n');
    const stack = await loadStack(path, { env: {} });
    assert.equal(stack.workDir, join(dir, 'run'));
    assert.equal(stack.components[0]?.cwd, join(dir, '../srv'));
  });
});

describe('the JSON Schema', () => {
  test(
    'schema/corral.schema.json is up to date (regenerate: node --import tsx scripts/generate-schema.ts)',
    TIMEOUT,
    () => {
      assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), renderStackJsonSchema());
    },
  );

  test('accepts the valid examples and rejects malformed ones', TIMEOUT, () => {
    // What an editor does with the schema: validate with a standard JSON Schema validator.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(
      JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object,
    );
    for (const name of ['full.yaml', 'issue-example.yaml']) {
      const valid = validate(parseYaml(readFileSync(file(name), 'utf8')));
      assert.ok(valid, `${name}: ${JSON.stringify(validate.errors)}`);
    }
    // Negative controls: the schema is not so loose that it accepts anything.
    for (const name of [
      'duration-number',
      'unknown-top-key',
      'unknown-component-key',
      'no-command',
      'ready-two',
      'unknown-kind',
      'envoy-bootstrap',
      'stop-signal',
    ]) {
      assert.equal(validate(parseYaml(readFileSync(file(`bad-${name}.yaml`), 'utf8'))), false, name);
    }
  });
});

test('a block of text where a map belongs is not echoed: it may hold a secret', () => {
  for (const text of [
    '|\n  env: { TOKEN: "Zq7-S3cr3t-pw" }\n',
    'components:\n  app: >\n    env: { TOKEN: "Zq7-S3cr3t-pw" }\n',
  ]) {
    const error = (() => {
      try {
        parseStack(text, { env: {} });
      } catch (e) {
        return e;
      }
      return assert.fail(`accepted ${JSON.stringify(text)}`);
    })();
    assert.ok(error instanceof StackFileError);
    assert.match(error.message, /expected a map, got a block of text \(not shown\)/);
    assert.ok(!error.message.includes('S3cr3t'), error.message);
  }
});
