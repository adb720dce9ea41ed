import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { runCorral, scratch } from '../helpers/cli.js';

/**
 * Black-box: `corral run` on a malformed stack file exits 2, names the YAML path (and line) of the
 * problem, and starts nothing. Every file below also declares a `witness` component that would
 * create a marker file if anything were started.
 */

const WITNESS = `  witness:
    command: [touch, "\${MARKER}"]
    oneShot: true`;

/** [what is wrong, the components (and top-level keys) after `witness`, the path the error names]. */
const CASES: [string, string, string][] = [
  [
    'stopTimeout as a bare number',
    'components:\n  app:\n    command: [sleep, "1"]\n    stopTimeout: 10',
    'components.app.stopTimeout',
  ],
  [
    'duration without unit',
    'components:\n  app:\n    command: [sleep, "1"]\n    stopTimeout: "10"',
    'components.app.stopTimeout',
  ],
  [
    'duration with unknown unit',
    'components:\n  app:\n    command: [sleep, "1"]\n    stopTimeout: 10y',
    'components.app.stopTimeout',
  ],
  [
    'negative duration',
    'components:\n  app:\n    command: [sleep, "1"]\n    stopTimeout: -1s',
    'components.app.stopTimeout',
  ],
  [
    'unknown component key',
    'components:\n  app:\n    command: [sleep, "1"]\n    comand: [x]',
    'components.app',
  ],
  ['unknown top-level key', 'componets: {}\ncomponents:\n  app:\n    command: [sleep, "1"]', 'componets'],
  ['command as a string', 'components:\n  app:\n    command: sleep 1', 'components.app.command'],
  ['empty command', 'components:\n  app:\n    command: []', 'components.app.command'],
  [
    'command and shell',
    'components:\n  app:\n    command: [sleep, "1"]\n    shell: "sleep 1"',
    'components.app',
  ],
  ['neither command nor shell', 'components:\n  app:\n    stopTimeout: 1s', 'components.app'],
  ['unknown kind', 'components:\n  app:\n    kind: docker\n    command: [sleep, "1"]', 'components.app.kind'],
  [
    'unknown dependency',
    'components:\n  app:\n    command: [sleep, "1"]\n    dependsOn: [db]',
    'components.app.dependsOn[0]',
  ],
  [
    'dependency cycle',
    'components:\n  a:\n    command: [sleep, "1"]\n    dependsOn: [b]\n  b:\n    command: [sleep, "1"]\n    dependsOn: [a]',
    'components.b.dependsOn',
  ],
  [
    'dependsOn not a list',
    'components:\n  app:\n    command: [sleep, "1"]\n    dependsOn: witness',
    'components.app.dependsOn',
  ],
  [
    'bad stop signal',
    'components:\n  app:\n    command: [sleep, "1"]\n    stopSignal: SIGNOPE',
    'components.app.stopSignal',
  ],
  ['bad component name', 'components:\n  App_Server!:\n    command: [sleep, "1"]', 'components'],
  ['components not a map', 'components: [a, b]', 'components'],
  [
    'env value not a string',
    'components:\n  app:\n    command: [sleep, "1"]\n    env: { PORT: [1] }',
    'components.app.env.PORT',
  ],
  [
    'ready probe with two kinds',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { http: "http://127.0.0.1:1/", tcp: "127.0.0.1:1" }',
    'components.app.ready',
  ],
  [
    'ready probe with no kind',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { timeout: 1s }',
    'components.app.ready',
  ],
  [
    'http probe with a bad URL',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { http: "not a url" }',
    'components.app.ready.http',
  ],
  [
    'tcp probe without port',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { tcp: "127.0.0.1" }',
    'components.app.ready.tcp',
  ],
  [
    'log probe with a bad regex',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { log: "([" }',
    'components.app.ready.log',
  ],
  [
    'probe status out of range',
    'components:\n  app:\n    command: [sleep, "1"]\n    ready: { http: "http://127.0.0.1:1/", status: 99 }',
    'components.app.ready.status',
  ],
  [
    'drain min above timeout',
    'components:\n  app:\n    command: [sleep, "1"]\n    drain: { signal: SIGUSR1, min: 10s, timeout: 1s }',
    'components.app.drain',
  ],
  [
    'drain with two triggers',
    'components:\n  app:\n    command: [sleep, "1"]\n    drain: { signal: SIGUSR1, http: { url: "http://127.0.0.1:1/" } }',
    'components.app.drain',
  ],
  [
    'drain connections with a bad URL',
    'components:\n  app:\n    command: [sleep, "1"]\n    drain: { signal: SIGUSR1, connections: { http: "::" } }',
    'components.app.drain.connections.http',
  ],
  [
    'restart maxRestarts negative',
    'components:\n  app:\n    command: [sleep, "1"]\n    restart: { maxRestarts: -1 }',
    'components.app.restart.maxRestarts',
  ],
  [
    'restart backoff unknown key',
    'components:\n  app:\n    command: [sleep, "1"]\n    restart: { backoff: { bas: 1s } }',
    'components.app.restart.backoff',
  ],
  [
    'leader not a boolean',
    'components:\n  app:\n    command: [sleep, "1"]\n    leader: "yes please"',
    'components.app.leader',
  ],
  [
    'oneShot not a boolean',
    'components:\n  app:\n    command: [sleep, "1"]\n    oneShot: 3',
    'components.app.oneShot',
  ],
  [
    'shutdown timeout a number',
    'shutdown: { timeout: 60 }\ncomponents:\n  app:\n    command: [sleep, "1"]',
    'shutdown.timeout',
  ],
  [
    'readiness address without port',
    'readiness: { address: "localhost" }\ncomponents:\n  app:\n    command: [sleep, "1"]',
    'readiness.address',
  ],
  [
    'metrics port out of range',
    'metrics: { address: "127.0.0.1:70000" }\ncomponents:\n  app:\n    command: [sleep, "1"]',
    'metrics.address',
  ],
  [
    'envoy without bootstrap',
    'components:\n  envoy:\n    kind: envoy\n    admin: 127.0.0.1:9901',
    'components.envoy.bootstrap',
  ],
  [
    'envoy with a bad admin address',
    'components:\n  envoy:\n    kind: envoy\n    bootstrap: ./b.yaml\n    admin: "nowhere"',
    'components.envoy.admin',
  ],
  [
    'envoy concurrency zero',
    'components:\n  envoy:\n    kind: envoy\n    bootstrap: ./b.yaml\n    admin: 127.0.0.1:9901\n    concurrency: 0',
    'components.envoy.concurrency',
  ],
  ['coredns with a bad port', 'components:\n  dns:\n    kind: coredns\n    port: dns', 'components.dns.port'],
  [
    'leader election without url',
    'leaderElection: { postgres: { name: x, lease: 5s } }\ncomponents:\n  app:\n    command: [sleep, "1"]',
    'leaderElection.postgres.url',
  ],
  [
    'leader election with a non-postgres url',
    'leaderElection: { postgres: { url: "mysql://u:hunter2@h/db", name: x, lease: 5s } }\ncomponents:\n  app:\n    command: [sleep, "1"]',
    'leaderElection.postgres.url',
  ],
  [
    'unset variable without default',
    'components:\n  app:\n    command: [sleep, "${CORRAL_TEST_UNSET_VARIABLE}"]',
    'components.app.command[1]',
  ],
  ['YAML syntax error', 'components:\n  app:\n    command: [sleep, "1"\n  other: x', ''],
];

test(
  `${CASES.length} malformed stack files: exit 2, the YAML path named, nothing started`,
  { timeout: 300_000 },
  async () => {
    assert.ok(CASES.length >= 40);
    const s = scratch();
    try {
      for (const [what, body, path] of CASES) {
        const marker = `${s.dir}/started`;
        // The witness goes first under `components:` so it would start first.
        const text = body.replace(/^components:\n/m, `components:\n${WITNESS}\n`);
        const file = s.write('corral.yaml', text.includes('witness') ? text : `${text}\n`);
        const { code, stderr } = await runCorral(['run', '-f', file], { env: { MARKER: marker } });
        assert.equal(code, 2, `${what}: exit code\n${stderr}`);
        assert.match(stderr, /invalid stack file/, what);
        if (path) {
          // The path named, or a deeper one under it (`components.app.comand` for `components.app`).
          const line = stderr
            .split('\n')
            .find((l) => /^ *\S+ \(line \d+\)/.test(l) && l.trimStart().startsWith(path));
          assert.ok(line, `${what}: no problem at ${path} in\n${stderr}`);
        } else {
          assert.match(stderr, /\(line \d+\)/, `${what}: the line is named`);
        }
        assert.equal(existsSync(marker), false, `${what}: something was started`);
        assert.ok(!stderr.includes('hunter2'), `${what}: a password leaked`);
      }
      // Control: the same witness in a valid file does start, so the checks above can fail.
      const marker = `${s.dir}/started`;
      const valid = `components:\n${WITNESS}\n  app:\n    command: [sleep, "0"]\n    dependsOn: [witness]\n`;
      const { code } = await runCorral(['run', '-f', s.write('corral.yaml', valid)], {
        env: { MARKER: marker },
      });
      assert.equal(code, 0);
      assert.equal(existsSync(marker), true);
    } finally {
      s.cleanup();
    }
  },
);
