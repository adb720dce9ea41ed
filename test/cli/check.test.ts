import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCorral, scratch } from '../helpers/cli.js';

test(
  'corral check prints the start order, the stop order, every timeout and the leader components',
  { timeout: 30_000 },
  async () => {
    const s = scratch();
    const file = s.write(
      'corral.yaml',
      `shutdown: { timeout: 45s }
components:
  dns:
    command: [sleep, "1"]
  db:
    command: [sleep, "1"]
    stopTimeout: 20s
    ready: { tcp: "127.0.0.1:5432", timeout: 1m }
  proxy:
    command: [sleep, "1"]
    dependsOn: [dns]
    drain: { signal: SIGUSR1, min: 1s, timeout: 30s }
  app:
    command: [sleep, "1"]
    dependsOn: [proxy, db]
    restart: { maxRestarts: 3, window: 1m, backoff: { base: 500ms, max: 10s } }
  reaper:
    command: [sleep, "1"]
    leader: true
    dependsOn: [db]
`,
    );
    const { code, stdout } = await runCorral(['check', '-f', file]);
    s.cleanup();
    assert.equal(code, 0);
    assert.equal(
      stdout,
      `${file}: valid, 5 components

start order (each line starts concurrently, after the line above is ready):
  1. dns, db
  2. proxy, reaper
  3. app

stop order (each line stops after the line above has finished):
  1. app
  2. proxy, reaper
  3. dns, db

timeouts:
  shutdown.timeout  45s (whole budget from the first signal to exit)
  dns               stop 10s after SIGTERM
  db                stop 20s after SIGTERM, ready within 60s
  proxy             stop 10s after SIGTERM, drain min 1s, at most 30s
  app               stop 10s after SIGTERM, restart backoff 500ms..10s, at most 3 in 60s
  reaper            stop 10s after SIGTERM

leader components: reaper (no leaderElection section: this instance is always the leader)
`,
    );
  },
);
