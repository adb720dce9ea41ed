import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ComponentFailedError,
  CorralError,
  InvalidStackError,
  RestartLimitError,
  ShutdownTimeoutError,
  StopRequest,
  type InvalidStackCode,
} from '../../src/core/errors.js';
import { ProcessExitError } from '../../src/process/terminate.js';
import { SpawnError } from '../../src/process/spawn.js';

// `code` is typed per class: the type-check of this file is half of the test. A class's `code`
// is assignable to its literal codes only, and a constructor refuses a code its class cannot carry.

test('each error class carries its own literal code', () => {
  const failed: 'COMPONENT_FAILED' = new ComponentFailedError({ component: 'a', error: 1 }).code;
  const timeout: 'SHUTDOWN_TIMEOUT' = new ShutdownTimeoutError(1_000, []).code;
  const restarts: 'RESTART_LIMIT' = new RestartLimitError('a', 5, 60_000, 'boom').code;
  const stop: 'STOP_REQUESTED' = new StopRequest('requested').code;
  const invalid: InvalidStackCode = new InvalidStackError('DEPENDENCY_CYCLE', 'cycle').code;
  const exited: 'PROCESS_EXITED' = new ProcessExitError('a', { exitCode: 1, signal: null }).code;
  const spawn: 'UNKNOWN_USER' | 'UNKNOWN_GROUP' | 'BAD_CWD' | 'SPAWN_FAILED' = new SpawnError(
    'BAD_CWD',
    'node',
    'no such directory',
  ).code;
  assert.deepEqual(
    [failed, timeout, restarts, stop, invalid, exited, spawn],
    [
      'COMPONENT_FAILED',
      'SHUTDOWN_TIMEOUT',
      'RESTART_LIMIT',
      'STOP_REQUESTED',
      'DEPENDENCY_CYCLE',
      'PROCESS_EXITED',
      'BAD_CWD',
    ],
  );
  // @ts-expect-error: a code InvalidStackError cannot carry
  const wrong = new InvalidStackError('RESTART_LIMIT', 'not a stack problem');
  assert.equal(wrong.code, 'RESTART_LIMIT', 'only the type-checker refuses it');
});

test('a switch on the code of a caught error narrows to the codes of its class', () => {
  const describe = (error: InvalidStackError): string => {
    switch (error.code) {
      case 'DEPENDENCY_CYCLE':
      case 'UNKNOWN_DEPENDENCY':
      case 'LEADER_DEPENDENCY':
        return 'graph';
      case 'DUPLICATE_COMPONENT':
      case 'ALREADY_RUNNING':
      case 'MANAGER_STOPPED':
      case 'UNKNOWN_COMPONENT':
        return 'usage';
      default: {
        // Exhaustive: with `code: string` this assignment would not type-check.
        const never: never = error.code;
        return never;
      }
    }
  };
  assert.equal(describe(new InvalidStackError('UNKNOWN_DEPENDENCY', 'x')), 'graph');
  const base: CorralError = new StopRequest('failure');
  assert.equal(typeof base.code, 'string', 'the base class keeps an open code');
});
