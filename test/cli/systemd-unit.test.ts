import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseServiceSettings } from '../../src/cli/systemd-unit.js';
import { runCorral, scratch } from '../helpers/cli.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/systemd/', import.meta.url));
const T = { timeout: 30_000 };

test('a unit file is read as systemd reads it: [Service] only, the last assignment wins, empty resets', () => {
  const settings = parseServiceSettings(`[Unit]
Type=ignored-outside-service
[Service]
# Type=simple
; TimeoutStopSec=1s
Type = notify
TimeoutStopSec=10s
TimeoutSec=2min
TimeoutStartSec=\\
  1min \\
  30s
KillMode=process
KillMode=
NotifyAccess=all
[Install]
NotifyAccess=none
`);
  assert.deepEqual(settings, {
    type: 'notify',
    // TimeoutSec= came after TimeoutStopSec=, so it decides the stop timeout too.
    startTimeout: '1min  30s',
    stopTimeout: '2min',
    killMode: undefined,
    notifyAccess: 'all',
  });
  assert.equal(
    parseServiceSettings('[Service]\nTimeoutSec=2min\nTimeoutStopSec=infinity\n').stopTimeout,
    'infinity',
  );
});

test('corral check --systemd-unit: the example unit fits the example stack', T, async () => {
  const { code, stdout, stderr } = await runCorral([
    'check',
    '-f',
    `${EXAMPLE}corral.yaml`,
    '--systemd-unit',
    `${EXAMPLE}corral.service`,
  ]);
  assert.equal(code, 0, stderr);
  assert.ok(
    stdout.endsWith(`
systemd unit ${EXAMPLE}corral.service:
  Type              notify
  TimeoutStartSec   90s, above the readiness timeouts along the start order, 60s
  TimeoutStopSec    75s, above shutdown.timeout 60s + 5s to kill what is left and exit
  KillMode          mixed
  NotifyAccess      all
  no warnings
`),
    stdout,
  );
});

test('corral check --systemd-unit warns about each setting that does not fit', T, async () => {
  const s = scratch();
  try {
    const file = s.write(
      'corral.yaml',
      `shutdown: { timeout: 2m }
components:
  db:
    command: [sleep, "1"]
    ready: { tcp: "127.0.0.1:5432", timeout: 1m }
  app:
    command: [sleep, "1"]
    dependsOn: [db]
    ready: { tcp: "127.0.0.1:8080", timeout: 30s }
`,
    );
    const unit = s.write('bad.service', '[Service]\nExecStart=/usr/bin/corral run\nTimeoutSec=1min 30s\n');
    const { code, stdout, stderr } = await runCorral(['check', '-f', file, '--systemd-unit', unit]);
    assert.equal(code, 0, stderr);
    assert.ok(
      stdout.endsWith(`
systemd unit ${unit}:
  Type              simple
  TimeoutStartSec   90s
  TimeoutStopSec    90s
  KillMode          control-group
  NotifyAccess      none
  warning: Type=simple: systemd takes the service as started before the stack is ready; use Type=notify
  warning: TimeoutStartSec 90s is not above the readiness timeouts along the start order, 90s: systemd may stop a start that is still within its timeouts
  warning: TimeoutStopSec 90s is not above shutdown.timeout 120s + 5s to kill what is left and exit: systemd may SIGKILL the stack in the middle of its shutdown; set it above 125s
  warning: KillMode=control-group: systemd sends SIGTERM to every process at once, so the stack neither drains nor stops in order; use KillMode=mixed
`),
      stdout,
    );

    // Type=notify without NotifyAccess=all, and a stop timeout systemd's syntax does not allow.
    const notify = s.write(
      'notify.service',
      '[Service]\nType=notify\nKillMode=mixed\nTimeoutStopSec=5 mins\n',
    );
    const second = await runCorral(['check', '-f', file, '--systemd-unit', notify]);
    assert.match(
      second.stdout,
      /\n {2}TimeoutStopSec {4}5 mins \(not a time span\)\n[^]*warning: TimeoutStopSec=5 mins is not a time span\n/,
    );
    assert.match(second.stdout, /warning: NotifyAccess=main: systemd ignores .* use NotifyAccess=all/);

    const missing = await runCorral(['check', '-f', file, '--systemd-unit', `${s.dir}/none.service`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the systemd unit .*none\.service: no such file/);
    const wrongCommand = await runCorral(['run', '-f', file, '--systemd-unit', unit]);
    assert.equal(wrongCommand.code, 2);
    assert.match(wrongCommand.stderr, /--systemd-unit is an option of `corral check`/);
  } finally {
    s.cleanup();
  }
});
