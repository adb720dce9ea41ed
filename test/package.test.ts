import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// The built package, imported by its own name: what users get from `import … from 'corral'`.
test('each entry point exposes its part of the library, and internals stay hidden', async () => {
  const entries: Record<string, readonly string[]> = {
    corral: ['Manager', 'fromFunction', 'withRestarts', 'processComponent', 'ComponentFailedError'],
    'corral/http': ['httpServer', 'healthServer', 'healthHandler', 'HttpListenError', 'HttpOptionsError'],
    'corral/postgres': ['PostgresElector', 'LeaderConfigError', 'LeadershipLostError'],
    'corral/presets': ['prepareEnvoy', 'envoyComponent', 'prepareCoredns', 'corednsComponent'],
    'corral/stack': ['loadStack', 'parseStack', 'StackFileError', 'buildStack', 'buildElector'],
    'corral/testing': [
      'ManualClock',
      'ScriptedComponent',
      'recordEvents',
      'checkGraceful',
      'GracefulCheckError',
    ],
  };
  for (const [entry, names] of Object.entries(entries)) {
    const module = (await import(entry)) as Record<string, unknown>;
    for (const name of names) assert.equal(typeof module[name], 'function', `${entry}: ${name}`);
  }
  const main = (await import('corral')) as Record<string, unknown>;
  assert.equal(main.PostgresElector, undefined, 'the elector is in corral/postgres only');
  assert.equal(main.httpServer, undefined, 'the HTTP server component is in corral/http only');
  // A specifier in a variable: the type-checker must not resolve it either.
  const internal = 'corral/dist/core/manager.js';
  await assert.rejects(import(internal), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

/**
 * Imports `entry` in a fresh node and reports what that loaded: Node's built-in modules (from
 * `process.moduleLoadList`) and the packages under node_modules (from the CommonJS cache, where
 * `pg` lands).
 */
async function loadedBy(entry: string): Promise<{ builtins: string[]; packages: string[] }> {
  const script = `
import { createRequire } from 'node:module';
await import(process.argv[1]);
const builtins = process.moduleLoadList
  .filter((line) => line.startsWith('NativeModule '))
  .map((line) => line.slice('NativeModule '.length));
const packages = Object.keys(createRequire(import.meta.url).cache)
  .filter((path) => path.includes('/node_modules/'))
  .map((path) => path.split('/node_modules/').pop().split('/')[0]);
process.stdout.write(JSON.stringify({ builtins, packages }));
`;
  // Run from the package's own directory, so that `corral` resolves to this package.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', script, entry],
    { cwd: ROOT, timeout: 30_000 },
  );
  return JSON.parse(stdout) as { builtins: string[]; packages: string[] };
}

test(
  "import 'corral' and 'corral/testing' load neither pg nor Node's HTTP and TLS (negative control: corral/postgres loads them)",
  { timeout: 60_000 },
  async () => {
    for (const entry of ['corral', 'corral/testing']) {
      const loaded = await loadedBy(entry);
      assert.ok(!loaded.packages.includes('pg'), `${entry} loaded pg: ${loaded.packages.join(', ')}`);
      for (const module of ['http', 'https', 'tls'])
        assert.ok(!loaded.builtins.includes(module), `${entry} loaded node:${module}`);
    }

    const http = await loadedBy('corral/http');
    assert.ok(http.builtins.includes('http'), 'corral/http did not load node:http');

    const postgres = await loadedBy('corral/postgres');
    assert.ok(postgres.packages.includes('pg'), 'corral/postgres did not load pg');
    assert.ok(postgres.builtins.includes('tls'), 'corral/postgres did not load node:tls');
  },
);
