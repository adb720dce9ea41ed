import assert from 'node:assert/strict';
import { test } from 'node:test';

// The built package, imported by its own name: what users get from `import … from 'corral'`.
test('the package exposes what src/index.ts re-exports, and nothing else', async () => {
  const corral = (await import('corral')) as Record<string, unknown>;
  for (const name of [
    'Manager',
    'fromFunction',
    'withRestarts',
    'processComponent',
    'PostgresElector',
    'ComponentFailedError',
  ]) {
    assert.equal(typeof corral[name], 'function', name);
  }
  // A specifier in a variable: the type-checker must not resolve it either.
  const internal = 'corral/dist/core/manager.js';
  await assert.rejects(import(internal), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});
