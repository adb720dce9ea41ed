import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildElector, buildStack, libraryFactories, type Factories } from '../../src/stackfile/build.js';
import { createRenderer, type Renderer } from '../../src/cli/render.js';
import { loadStack } from '../../src/stackfile/load.js';
import { stackJsonSchema } from '../../src/stackfile/json-schema.js';
import type { Stack } from '../../src/stackfile/schema.js';
import type { DrainSpec } from '../../src/drain/spec.js';
import { AlwaysLeader } from '../../src/core/leadership.js';
import type { PostgresElectorOptions } from '../../src/postgres/options.js';
import type { CorednsPresetConfig } from '../../src/presets/coredns/preset.js';
import type { EnvoyPresetConfig } from '../../src/presets/envoy/preset.js';
import type { ProcessOptions } from '../../src/process/component.js';
import { Isolation } from '../../src/containment/isolation.js';
import type { CorralEvent } from '../../src/events.js';
import type { RestartOptions } from '../../src/core/restart.js';
import { scratch } from '../helpers/cli.js';

/**
 * Nothing a stack file says is lost on the way to the library: for each kind of section, a stack
 * file that uses every key the schema knows (checked against the schema itself, so a key added
 * later must be added here too) is built with the library's factories wrapped, and what reaches
 * each factory is compared with what the file says.
 */

const T = { timeout: 30_000 };

/** What reached each factory, in call order. The real factories still run: nothing is started. */
interface Seen {
  process: ProcessOptions[];
  drain: DrainSpec[];
  restart: RestartOptions[];
  envoy: EnvoyPresetConfig[];
  coredns: CorednsPresetConfig[];
  postgres: PostgresElectorOptions[];
}

function recordingFactories(): { factories: Factories; seen: Seen } {
  const seen: Seen = { process: [], drain: [], restart: [], envoy: [], coredns: [], postgres: [] };
  const real = libraryFactories;
  const factories: Factories = {
    process: (options) => (seen.process.push(options), real.process(options)),
    drain: (spec) => (seen.drain.push(spec), real.drain(spec)),
    restart: (component, options) => (seen.restart.push(options), real.restart(component, options)),
    envoy: (config) => (seen.envoy.push(config), real.envoy(config)),
    coredns: (config) => (seen.coredns.push(config), real.coredns(config)),
    // The real elector would connect to a database; what it is given is the point here.
    postgres: (options) => (seen.postgres.push(options), Promise.resolve(new AlwaysLeader())),
  };
  return { factories, seen };
}

type JsonSchema = Record<string, unknown>;

/**
 * Every key the schema allows under `node`, as dotted paths, through nested objects and every
 * alternative (`oneOf`, `anyOf`); not into maps of free names (env, headers).
 */
function schemaKeys(node: JsonSchema, prefix = ''): Set<string> {
  const keys = new Set<string>();
  const properties = (node.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, child] of Object.entries(properties)) {
    keys.add(`${prefix}${key}`);
    for (const inner of schemaKeys(child, `${prefix}${key}.`)) keys.add(inner);
  }
  for (const alternatives of [node.oneOf, node.anyOf, node.allOf]) {
    for (const alternative of (alternatives ?? []) as JsonSchema[]) {
      for (const inner of schemaKeys(alternative, prefix)) keys.add(inner);
    }
  }
  return keys;
}

/** Every key path of a parsed YAML value (lists are values, not places for keys). */
function usedKeys(value: unknown, prefix = ''): Set<string> {
  const keys = new Set<string>();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return keys;
  for (const [key, child] of Object.entries(value)) {
    keys.add(`${prefix}${key}`);
    for (const inner of usedKeys(child, `${prefix}${key}.`)) keys.add(inner);
  }
  return keys;
}

/** The JSON Schema of components of `kind`. */
function kindSchema(kind: string): JsonSchema {
  const components = (stackJsonSchema().properties as Record<string, JsonSchema>).components;
  const alternatives = (components?.additionalProperties as JsonSchema).oneOf as JsonSchema[];
  const found = alternatives.find((alternative) => {
    const kindKey = (alternative.properties as Record<string, JsonSchema>).kind;
    return JSON.stringify(kindKey).includes(`"${kind}"`);
  });
  assert.ok(found, `no schema for kind ${kind}`);
  return found;
}

/** The file's components of `kind` together use every key the schema knows for that kind. */
function assertEveryKey(yaml: string, kind: string): void {
  const components = (parseYaml(yaml) as { components: Record<string, { kind?: string }> }).components;
  const used = new Set<string>();
  for (const component of Object.values(components)) {
    if ((component.kind ?? 'process') !== kind) continue;
    for (const key of usedKeys(component)) used.add(key);
  }
  const missing = [...schemaKeys(kindSchema(kind))].filter((key) => !used.has(key));
  assert.deepEqual(missing, [], `the ${kind} stack leaves keys of the schema unused`);
}

let isolation: Isolation;
let renderer: Renderer;
before(async () => {
  // Nothing runs here: no watchdog, no cgroup; the isolation is only passed along.
  isolation = await Isolation.create({ parentDeathSignal: false, cgroup: false, watchdog: false });
  renderer = await createRenderer({
    format: 'json',
    level: 'fatal',
    status: () => [],
    onLost: () => undefined,
    onOutputEvent: () => undefined,
  });
});
after(async () => {
  await isolation.close();
});

/** Loads `yaml` from a scratch dir holding `files`, and builds it with recording factories. */
async function build(yaml: string, files: Record<string, string> = {}) {
  const s = scratch();
  for (const [name, text] of Object.entries(files)) s.write(name, text);
  const file = s.write('corral.yaml', yaml);
  const stack = await loadStack(file, { env: {} });
  const { factories, seen } = recordingFactories();
  const workDir = join(s.dir, 'work');
  const built = await buildStack({
    stack,
    baseDir: s.dir,
    workDir,
    isolation,
    output: renderer,
    warn: () => undefined,
    onOutputEvent: () => undefined,
    factories,
  });
  return { dir: s.dir, workDir, stack, built, seen, cleanup: s.cleanup };
}

/** What every component hands over the same way: its output target and the run's isolation. */
function withoutPlumbing(options: ProcessOptions | undefined) {
  assert.ok(options);
  assert.equal(options.isolation, isolation);
  assert.ok(options.output, 'an output target');
  const { output: _output, isolation: _isolation, ...rest } = options;
  return rest;
}

function formatOf(options: ProcessOptions | undefined): string | undefined {
  const output = options?.output;
  return typeof output === 'object' ? output.format : output;
}

describe('every key of a stack file reaches the library', () => {
  test('kind: process', T, async () => {
    const yaml = `components:
  app:
    kind: process
    command: [node, server.js]
    stopSignal: SIGQUIT
    ready: { http: "http://127.0.0.1:8080/healthz", status: 204, interval: 100ms, timeout: 20s }
    restart: { maxRestarts: 3, window: 2m, backoff: { base: 500ms, max: 10s } }
    drain:
      http: { method: PUT, url: "http://127.0.0.1:9000/drain", headers: { Authorization: Bearer t0ken } }
      connections: { http: "http://127.0.0.1:9000/connections" }
      min: 1s
      timeout: 90s
    oneShot: false
    dependsOn: [db]
    leader: true
    env: { PORT: "8080" }
    cwd: app
    user: 1000
    group: nogroup
    stopTimeout: 7s
    output: { file: app.log }
  db:
    shell: exec postgres -D data
    ready: { tcp: 127.0.0.1:5432 }
    drain: { signal: SIGUSR1, connections: { exec: [count-connections] } }
    oneShot: true
    output: raw
  checker:
    command: [checker]
    ready: { exec: [test, -f, ready], interval: 1s }
  logger:
    command: [logger]
    ready: { log: "^listening on \\\\d+$" }
`;
    assertEveryKey(yaml, 'process');
    const { dir, seen, built, cleanup } = await build(yaml);
    try {
      const [app, db, checker, logger] = seen.process;
      const appDrain = withoutPlumbing(app).drain;
      assert.deepEqual(withoutPlumbing(app), {
        name: 'app',
        command: ['node', 'server.js'],
        stopSignal: 'SIGQUIT',
        ready: { http: 'http://127.0.0.1:8080/healthz', status: 204, interval: 100, timeout: 20_000 },
        oneShot: false,
        dependsOn: ['db'],
        leader: true,
        env: { PORT: '8080' },
        cwd: join(dir, 'app'),
        user: 1000,
        group: 'nogroup',
        stopTimeout: 7000,
        drain: appDrain,
      });
      assert.equal(typeof appDrain, 'function', 'the drain hook made from the drain section');
      assert.deepEqual(formatOf(app), 'raw', 'a file gets the raw output');
      assert.deepEqual(withoutPlumbing(db), {
        name: 'db',
        command: ['/bin/sh', '-c', 'exec postgres -D data'],
        stopSignal: 'SIGTERM',
        ready: { tcp: { host: '127.0.0.1', port: 5432 }, interval: 250, timeout: 60_000 },
        oneShot: true,
        dependsOn: [],
        leader: false,
        env: {},
        cwd: dir,
        stopTimeout: 10_000,
        drain: withoutPlumbing(db).drain,
      });
      assert.deepEqual(formatOf(db), 'raw');
      assert.deepEqual(withoutPlumbing(checker).ready, {
        exec: ['test', '-f', 'ready'],
        interval: 1000,
        timeout: 60_000,
      });
      assert.deepEqual(withoutPlumbing(logger).ready, {
        log: /^listening on \d+$/,
        interval: 250,
        timeout: 60_000,
      });
      assert.deepEqual(seen.drain, [
        {
          trigger: {
            kind: 'http',
            method: 'PUT',
            url: 'http://127.0.0.1:9000/drain',
            headers: { Authorization: 'Bearer t0ken' },
          },
          connections: { kind: 'http', url: 'http://127.0.0.1:9000/connections' },
          min: 1000,
          timeout: 90_000,
        },
        {
          trigger: { kind: 'signal', signal: 'SIGUSR1' },
          connections: { kind: 'exec', command: ['count-connections'] },
          min: 0,
          timeout: 30_000,
        },
      ]);
      assert.deepEqual(seen.restart, [
        { maxRestarts: 3, window: 120_000, backoff: { base: 500, max: 10_000 } },
      ]);
    } finally {
      await built.close();
      cleanup();
    }
  });

  test('kind: envoy', T, async () => {
    const yaml = `components:
  envoy:
    kind: envoy
    binary: /usr/local/bin/envoy
    bootstrap: bootstrap.yaml
    admin: unix:admin.sock
    logLevel: warning
    componentLogLevel: upstream:debug,connection:trace
    concurrency: 2
    drain: { min: 1s, timeout: 20s }
    dependsOn: [app]
    leader: true
    env: { ENVOY_TOKEN: t0ken }
    cwd: envoy
    user: envoy
    group: "101"
    stopTimeout: 3s
    output: { file: envoy.log }
  app:
    command: [app]
`;
    assertEveryKey(yaml, 'envoy');
    const { dir, workDir, seen, built, cleanup } = await build(yaml, { 'bootstrap.yaml': 'admin: {}\n' });
    try {
      assert.deepEqual(seen.envoy, [
        {
          name: 'envoy',
          workDir,
          binary: '/usr/local/bin/envoy',
          bootstrap: join(dir, 'bootstrap.yaml'),
          admin: { socketPath: join(dir, 'admin.sock') },
          logLevel: 'warning',
          componentLogLevel: 'upstream:debug,connection:trace',
          concurrency: 2,
          drain: { min: 1000, timeout: 20_000 },
          stopTimeout: 3000,
        },
      ]);
      // The process settings go to the process component; the preset decides the rest.
      const { command, ready, drain, ...settings } = withoutPlumbing(seen.process[0]);
      assert.deepEqual(settings, {
        name: 'envoy',
        dependsOn: ['app'],
        leader: true,
        env: { ENVOY_TOKEN: 't0ken' },
        cwd: join(dir, 'envoy'),
        user: 'envoy',
        group: 101,
        stopSignal: 'SIGTERM',
        stopTimeout: 3000,
      });
      assert.equal(command[0], '/usr/local/bin/envoy');
      assert.ok(command.includes('--concurrency') && command.includes('2'), command.join(' '));
      assert.equal(typeof ready, 'function');
      assert.equal(typeof drain, 'function');
    } finally {
      await built.close();
      cleanup();
    }
  });

  test('kind: coredns', T, async () => {
    const yaml = `components:
  dns:
    kind: coredns
    binary: /opt/coredns
    port: 15055
    upstream: 127.0.0.1:15056
    log: true
    prometheusAddress: 127.0.0.1:19155
    readyAddress: 127.0.0.1:8185
    restart: { maxRestarts: 2, window: 30s, backoff: { base: 2s, max: 8s } }
    dependsOn: [given]
    leader: true
    env: { GODEBUG: x }
    cwd: dns
    user: coredns
    group: coredns
    stopTimeout: 4s
    output: { file: dns.log }
  given:
    kind: coredns
    corefile: Corefile
    output: raw
`;
    assertEveryKey(yaml, 'coredns');
    const corefile = '.:53 {\n    ready 127.0.0.1:8186\n}\n';
    const { dir, workDir, seen, built, cleanup } = await build(yaml, { Corefile: corefile });
    try {
      const defaults = {
        prometheusAddress: { host: '127.0.0.1', port: 19153 },
        readyAddress: { host: '127.0.0.1', port: 8181 },
      };
      assert.deepEqual(seen.coredns, [
        {
          name: 'dns',
          workDir,
          binary: '/opt/coredns',
          port: 15055,
          upstream: { host: '127.0.0.1', port: 15056 },
          log: true,
          prometheusAddress: { host: '127.0.0.1', port: 19155 },
          readyAddress: { host: '127.0.0.1', port: 8185 },
          stopTimeout: 4000,
        },
        {
          name: 'given',
          workDir,
          binary: 'coredns',
          corefile: join(dir, 'Corefile'),
          // Filled in by the schema, and ignored by the preset next to a Corefile given as is.
          port: 15053,
          upstream: { host: '127.0.0.1', port: 15054 },
          log: false,
          ...defaults,
          stopTimeout: 10_000,
        },
      ]);
      const { command, ready, ...settings } = withoutPlumbing(seen.process[0]);
      assert.deepEqual(settings, {
        name: 'dns',
        dependsOn: ['given'],
        leader: true,
        env: { GODEBUG: 'x' },
        cwd: join(dir, 'dns'),
        user: 'coredns',
        group: 'coredns',
        stopSignal: 'SIGTERM',
        stopTimeout: 4000,
      });
      assert.deepEqual(command, ['/opt/coredns', '-conf', join(workDir, 'dns', 'Corefile'), '-quiet']);
      assert.deepEqual(ready, { http: 'http://127.0.0.1:8185/ready', status: 200, interval: 200 });
      assert.deepEqual(seen.restart, [
        { maxRestarts: 2, window: 30_000, backoff: { base: 2000, max: 8000 } },
      ]);
    } finally {
      await built.close();
      cleanup();
    }
  });

  test('leaderElection.postgres', T, async () => {
    const yaml = `leaderElection:
  postgres:
    url: postgres://corral:hunter2@127.0.0.1:5432/corral
    name: every-key
    lease: 6s
    renewDeadline: 4s
    renewInterval: 1s
    retry: 2s
    sessionLock: false
    table: corral.leader
components:
  app:
    command: [app]
    leader: true
`;
    const postgres = (stackJsonSchema().properties as Record<string, JsonSchema>).leaderElection;
    const keys = [...schemaKeys(postgres ?? {}, 'leaderElection.')];
    const used = usedKeys(parseYaml(yaml));
    assert.deepEqual(
      keys.filter((key) => !used.has(key)),
      [],
      'the stack leaves keys of the schema unused',
    );

    const s = scratch();
    try {
      const stack: Stack = await loadStack(s.write('corral.yaml', yaml), { env: {} });
      const { factories, seen } = recordingFactories();
      const emitted: CorralEvent[] = [];
      await buildElector(stack, (event) => emitted.push(event), factories);
      const [options] = seen.postgres;
      assert.ok(options);
      const { onEvent, ...rest } = options;
      assert.deepEqual(rest, {
        url: 'postgres://corral:hunter2@127.0.0.1:5432/corral',
        name: 'every-key',
        lease: 6000,
        renewDeadline: 4000,
        renewInterval: 1000,
        retry: 2000,
        sessionLock: false,
        table: 'corral.leader',
      });
      // Terms are the manager's to announce; the elector's warnings are passed on.
      assert.ok(onEvent);
      const warning: CorralEvent = { type: 'warning', code: 'LEADER_RETRY', message: 'connection refused' };
      onEvent({ type: 'leader.elected', term: 1 });
      onEvent(warning);
      assert.deepEqual(emitted, [warning]);
    } finally {
      s.cleanup();
    }
  });
});
