import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CORRAL, freePort, scratch } from '../helpers/cli.js';

/**
 * A run keeps in memory every module it imported (issue 3), so Node's HTTP and TLS stacks are
 * imported only by stacks that use them: HTTP probes, drains, presets, endpoints.
 */

/** Preloaded into corral: writes the Node modules it loaded to the file in CORRAL_TEST_MODULES at exit. */
const RECORDER = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from 'node:fs';
process.on('exit', () => writeFileSync(process.env.CORRAL_TEST_MODULES, process.moduleLoadList.join('\\n')));`,
)}`;

/** Runs `stack` to its end; returns corral's exit code and the Node modules it had loaded. */
async function nodeModulesOf(stack: string): Promise<{ code: number | null; modules: string[] }> {
  const s = scratch();
  try {
    const file = s.write('corral.yaml', stack);
    const list = join(s.dir, 'modules.txt');
    const child = spawn(process.execPath, ['--import', RECORDER, CORRAL, 'run', '-f', file], {
      env: { ...process.env, CORRAL_TEST_MODULES: list },
      stdio: 'ignore',
      timeout: 25_000,
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    const modules = readFileSync(list, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('NativeModule '))
      .map((line) => line.slice('NativeModule '.length));
    return { code, modules };
  } finally {
    s.cleanup();
  }
}

test(
  'a plain stack loads neither HTTP nor TLS (negative control: an HTTP probe loads HTTP)',
  { timeout: 60_000 },
  async () => {
    // A whole run: started, ready, ended on its own (exit 0), stopped.
    const plain = await nodeModulesOf('components:\n  app:\n    command: [sleep, "0.2"]\n');
    assert.equal(plain.code, 0);
    for (const module of ['http', 'https', 'tls', 'crypto'])
      assert.ok(!plain.modules.includes(module), `a plain stack loaded ${module}`);

    const port = await freePort();
    const probed = await nodeModulesOf(
      `components:\n  app:\n    command: [sleep, "1"]\n    ready: { http: "http://127.0.0.1:${port}/", timeout: 500ms }\n`,
    );
    assert.equal(probed.code, 1, 'nothing answers the probe, so the run fails');
    assert.ok(probed.modules.includes('http'), 'an HTTP probe did not load http');
  },
);
