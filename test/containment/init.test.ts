import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INIT_ENV, noInitWarning, NO_INIT_ENV, takePidOnePlace } from '../../src/containment/init.js';

test('the place in the PID namespace: PID 1 itself, the child of Corral’s init as PID 1, or below', () => {
  assert.equal(takePidOnePlace({}, 1, 0), 'self');
  assert.equal(takePidOnePlace({ [INIT_ENV]: '1' }, 2, 1), 'init');
  // The marker alone proves nothing: a parent that is not PID 1, or a marker that names another pid.
  assert.equal(takePidOnePlace({ [INIT_ENV]: '1' }, 40, 39), 'below');
  assert.equal(takePidOnePlace({ [INIT_ENV]: '7' }, 8, 1), 'below');
  // systemd is PID 1 and a parent too, but no init of Corral's.
  assert.equal(takePidOnePlace({}, 40, 1), 'below');
});

test('the init’s marker is taken out of the environment, so that no component inherits it', () => {
  const env: NodeJS.ProcessEnv = { [INIT_ENV]: '1', PATH: '/bin' };
  takePidOnePlace(env, 2, 1);
  assert.deepEqual(env, { PATH: '/bin' });
});

test('the warning for PID 1 without the init names why', () => {
  assert.match(noInitWarning({ [NO_INIT_ENV]: '1' }).message, /CORRAL_NO_INIT is set/);
  assert.match(noInitWarning({}).message, /started as `node …\/corral\.js`/);
  assert.equal(noInitWarning({}).code, 'PID1_WITHOUT_INIT');
});
