import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envoyArguments } from '../../../src/presets/envoy/args.js';

// kuma-dp's own expectation for the same settings (its envoy_test.go) is, on Linux:
// "--config-path <dir>/bootstrap.yaml --drain-time-s 15 --disable-hot-restart --log-level off --cpuset-threads"
// plus `--drain-strategy immediate` in its current code; these lists are that, exactly.

const base = { configPath: '/work/envoy/bootstrap.yaml', drainTimeout: 15_000, logLevel: 'off' };

test('Linux without concurrency: --cpuset-threads last', () => {
  assert.deepEqual(envoyArguments({ ...base, platform: 'linux' }), [
    '--config-path',
    '/work/envoy/bootstrap.yaml',
    '--drain-time-s',
    '15',
    '--drain-strategy',
    'immediate',
    '--disable-hot-restart',
    '--log-level',
    'off',
    '--cpuset-threads',
  ]);
});

test('concurrency replaces --cpuset-threads, on any platform', () => {
  for (const platform of ['linux', 'darwin'] as const) {
    assert.deepEqual(envoyArguments({ ...base, concurrency: 9, platform }).slice(-3), [
      'off',
      '--concurrency',
      '9',
    ]);
  }
});

test('elsewhere than Linux, no concurrency means no thread flag at all', () => {
  const args = envoyArguments({ ...base, platform: 'darwin' });
  assert.equal(args.at(-1), 'off');
  assert.ok(!args.includes('--cpuset-threads'));
});

test('--component-log-level comes right after --log-level, only when set', () => {
  assert.deepEqual(
    envoyArguments({
      ...base,
      logLevel: 'info',
      componentLogLevel: 'upstream:debug,connection:trace',
      platform: 'linux',
    }).slice(7),
    ['--log-level', 'info', '--component-log-level', 'upstream:debug,connection:trace', '--cpuset-threads'],
  );
  assert.ok(
    !envoyArguments({ ...base, componentLogLevel: '', platform: 'linux' }).includes('--component-log-level'),
  );
});

test('--drain-time-s is the drain timeout in whole seconds, rounded up, at least 1', () => {
  const drainTime = (ms: number) => {
    const args = envoyArguments({ ...base, drainTimeout: ms, platform: 'linux' });
    return args[args.indexOf('--drain-time-s') + 1];
  };
  assert.equal(drainTime(30_000), '30');
  assert.equal(drainTime(1_500), '2');
  assert.equal(drainTime(200), '1');
  assert.equal(drainTime(0), '1');
});
