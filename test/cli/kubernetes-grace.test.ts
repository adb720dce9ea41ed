import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCorral, scratch } from '../helpers/cli.js';

/** Envoy drains up to 10s, then the app stops (10s), then Envoy (5s) and DNS (2s) concurrently: 25s. */
const STACK = (timeout: string): string => `shutdown: { timeout: ${timeout} }
components:
  envoy:
    command: [sleep, "1"]
    drain: { signal: SIGUSR1, timeout: 10s }
    stopTimeout: 5s
  dns:
    command: [sleep, "1"]
    stopTimeout: 2s
  app:
    command: [sleep, "1"]
    dependsOn: [envoy, dns]
`;

/** The part of `corral check`'s output that --kubernetes-grace adds. */
function kubernetesPart(stdout: string): string {
  return stdout.slice(stdout.indexOf('kubernetes:'));
}

/** Runs `corral <args> -f FILE` on {@link STACK} with `timeout`, in a scratch dir removed after. */
async function corralOn(timeout: string, args: string[]) {
  const s = scratch();
  try {
    return await runCorral([...args, '-f', s.write('corral.yaml', STACK(timeout))]);
  } finally {
    s.cleanup();
  }
}

test('check --kubernetes-grace: a shutdown that fits exits 0 and shows the worst-case timeline', async () => {
  const { code, stdout, stderr } = await corralOn('24s', [
    'check',
    '--kubernetes-grace',
    '30s',
    '--kubernetes-prestop',
    '5s',
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(
    kubernetesPart(stdout),
    `kubernetes: grace period 30s, preStop hook 5s (worst case; times from the pod's deletion):
  0ms..5s        the preStop hook, then SIGTERM
  5s..15s        drain envoy (at most 10s)
  15s..25s       stop app (at most 10s)
  25s..30s       stop envoy (at most 5s)
  25s..27s       stop dns (at most 2s)
  29s            shutdown.timeout (24s) after SIGTERM: Corral kills whatever is left and exits
  30s            the grace period is over: the kubelet SIGKILLs the container
fits: preStop 5s + shutdown.timeout 24s = 29s, before the 30s grace period ends (1s to spare)
shutdown.timeout cuts (Corral kills them, and its stop report names them):
    envoy: 4s into its stop of at most 5s
`,
  );
});

test('check --kubernetes-grace: a shutdown longer than the grace exits 1 and names what the kubelet cuts', async () => {
  const { code, stdout } = await corralOn('60s', ['check', '--kubernetes-grace', '20s']);
  assert.equal(code, 1);
  const part = kubernetesPart(stdout);
  assert.match(
    part,
    /^does not fit: preStop 0ms \+ shutdown\.timeout 60s = 60s, not before the 20s grace period ends$/m,
  );
  assert.match(part, /^ {4}app: 10s into its stop of at most 10s$/m, part);
  assert.match(part, /^ {4}envoy: its stop would not have begun \(due at 20s\)$/m, part);
  assert.match(part, /^ {4}dns: its stop would not have begun \(due at 20s\)$/m, part);
  assert.match(part, /^ {2}fix: shutdown\.timeout below 20s, or terminationGracePeriodSeconds: 61$/m);
});

test('check --kubernetes-grace: timeouts that fit but a shutdown.timeout that does not still exit 1', async () => {
  const { code, stdout } = await corralOn('60s', ['check', '--kubernetes-grace', '45s']);
  assert.equal(code, 1);
  assert.match(
    kubernetesPart(stdout),
    /^ {2}every drain and stop timeout ends by 25s, but a component that overran them would be SIGKILLed by the kubelet, with no stop report$/m,
  );
});

test('check --kubernetes-grace: malformed durations and misplaced options are usage errors', async () => {
  const bare = await corralOn('20s', ['check', '--kubernetes-grace', '30']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /--kubernetes-grace: expected a duration like "30s", got "30"/);
  const alone = await corralOn('20s', ['check', '--kubernetes-prestop', '5s']);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--kubernetes-prestop needs --kubernetes-grace/);
  const run = await corralOn('20s', ['run', '--kubernetes-grace', '30s']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /are options of check/);
  // Without the option, check is unchanged: exit 0 and no Kubernetes section.
  const plain = await corralOn('20s', ['check']);
  assert.equal(plain.code, 0);
  assert.doesNotMatch(plain.stdout, /kubernetes/);
});
