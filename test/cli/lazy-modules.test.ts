import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CORRAL, freePort, scratch } from './support.js';

/**
 * A run keeps in memory every module it imported (issue 3), so Node's HTTP and TLS stacks are
 * imported only by stacks that use them: HTTP probes, drains, presets, endpoints.
 */

/** Preloaded into corral: writes the Node modules it loaded to the file in CORRAL_TEST_MODULES at exit. */
const RECORDER = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from 'node:fs';
process.on('exit', () => writeFileSync(process.env.CORRAL_TEST_MODULES, process.moduleLoadList.join('\\n')));`,
)}`;

async function nodeModulesOf(stack: string): Promise<string[]> {
  const s = scratch();
  try {
    const file = s.write('corral.yaml', stack);
    const modules = join(s.dir, 'modules.txt');
    await promisify(execFile)(process.execPath, ['--import', RECORDER, CORRAL, 'run', '-f', file], {
      env: { ...process.env, CORRAL_TEST_MODULES: modules },
      timeout: 25_000,
    }).catch(() => undefined); // the control's run fails; only what it loaded matters here
    return readFileSync(modules, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('NativeModule '))
      .map((line) => line.slice('NativeModule '.length));
  } finally {
    s.cleanup();
  }
}

test(
  'a plain stack loads neither HTTP nor TLS (negative control: an HTTP probe loads HTTP)',
  { timeout: 60_000 },
  async () => {
    const plain = await nodeModulesOf('components:\n  app:\n    command: [sleep, "0.2"]\n');
    for (const module of ['http', 'https', 'tls', 'crypto'])
      assert.ok(!plain.includes(module), `a plain stack loaded ${module}`);
    assert.ok(plain.includes('child_process'), 'the recorder saw the run');

    const port = await freePort();
    const probed = await nodeModulesOf(
      `components:\n  app:\n    command: [sleep, "1"]\n    ready: { http: "http://127.0.0.1:${port}/", timeout: 500ms }\n`,
    );
    assert.ok(probed.includes('http'), 'an HTTP probe did not load http');
  },
);
