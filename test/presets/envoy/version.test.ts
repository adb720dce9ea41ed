import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { killPids, waitGone } from '../../helpers/process.js';
import {
  OLDEST_SUPPORTED_ENVOY,
  checkEnvoyVersion,
  compareVersions,
  judgeEnvoyVersion,
  parseEnvoyVersion,
} from '../../../src/presets/envoy/version.js';

const envoyDouble = fileURLToPath(new URL('../../fixtures/envoy-double', import.meta.url));

// kuma-dp's examples (its envoy_test.go and testdata mocks), output byte for byte.
const withLabel =
  '\nenvoy  version: 50ef0945fa2c5da4bff7627c3abf41fdd3b7cffd/1.20.0-dev/clean-getenvoy-2aa564b-envoy/RELEASE/BoringSSL\n\n';
const windows =
  '\r\nC:\\Users\\kuma\\envoy\\versions\\1.19.0\\bin\\envoy.exe  version: 68fe53a889416fd8570506232052b06f5a531541/1.19.0/Modified/RELEASE/BoringSSL\r\n\r\n';

test('parses kuma-dp examples: a version with a label, and Windows output', () => {
  assert.deepEqual(parseEnvoyVersion(withLabel), {
    build:
      '50ef0945fa2c5da4bff7627c3abf41fdd3b7cffd/1.20.0-dev/clean-getenvoy-2aa564b-envoy/RELEASE/BoringSSL',
    version: '1.20.0-dev',
  });
  assert.deepEqual(parseEnvoyVersion(windows), {
    build: '68fe53a889416fd8570506232052b06f5a531541/1.19.0/Modified/RELEASE/BoringSSL',
    version: '1.19.0',
  });
});

test('output that is not "version: " followed by five /-separated parts is unparsable', () => {
  for (const output of [
    '', // nothing
    '50ef0945fa2c5da4bff7627c3abf41fdd3b7cffd/1.15.0/clean-getenvoy-2aa564b-envoy/RELEASE/BoringSSL\n', // no "version:"
    'envoy  version: 50ef/1.20.0/RELEASE/BoringSSL\n', // four parts
    'envoy  version: a/1.20.0/b/c/d/e\n', // six parts
    'envoy  version: a//b/c/d\n', // empty version
  ]) {
    assert.equal(parseEnvoyVersion(output), undefined, JSON.stringify(output));
  }
});

test('a version older than supported, or unparsable, gives a warning; a current one does not', () => {
  const old = judgeEnvoyVersion(withLabel);
  assert.equal(old.version?.version, '1.20.0-dev');
  assert.equal(old.warning?.code, 'ENVOY_VERSION_UNSUPPORTED');
  assert.match(
    old.warning.message,
    new RegExp(`1\\.20\\.0-dev is older than ${OLDEST_SUPPORTED_ENVOY.replaceAll('.', '\\.')}`),
  );

  const garbage = judgeEnvoyVersion('Segmentation fault\n');
  assert.equal(garbage.version, undefined);
  assert.equal(garbage.warning?.code, 'ENVOY_VERSION_UNPARSABLE');
  assert.match(garbage.warning.message, /Segmentation fault/);

  const odd = judgeEnvoyVersion('envoy  version: abc/main/Clean/RELEASE/BoringSSL\n');
  assert.equal(odd.warning?.code, 'ENVOY_VERSION_UNSUPPORTED');

  assert.deepEqual(
    judgeEnvoyVersion('envoy  version: abc/1.31.2/Clean/RELEASE/BoringSSL\n').warning,
    undefined,
  );
  assert.deepEqual(
    judgeEnvoyVersion(`envoy  version: abc/${OLDEST_SUPPORTED_ENVOY}-dev/Clean/RELEASE/BoringSSL`).warning,
    undefined,
  );
});

test('compareVersions compares major.minor.patch numerically', () => {
  assert.equal(compareVersions('1.9.0', '1.28.0'), -1);
  assert.equal(compareVersions('1.28.1', '1.28.0'), 1);
  assert.equal(compareVersions('1.28.0-dev', '1.28.0'), 0);
  assert.equal(compareVersions('main', '1.28.0'), undefined);
});

test(
  'checkEnvoyVersion runs the real binary (the Envoy double) with --version',
  { timeout: 20_000 },
  async () => {
    const current = await checkEnvoyVersion(envoyDouble);
    assert.equal(current.version?.version, '1.31.2');
    assert.equal(current.warning, undefined);

    // The double prints what ENVOY_DOUBLE_VERSION says; a wrapper script sets it (no shell in Corral).
    const dir = await mkdtemp(join(tmpdir(), 'corral-version-'));
    try {
      const wrapper = join(dir, 'old-envoy');
      // The newlines of the version text go into the script as they are, inside double quotes.
      await writeFile(wrapper, `#!/bin/sh\nENVOY_DOUBLE_VERSION="${withLabel}" exec ${envoyDouble} "$@"\n`, {
        mode: 0o755,
      });
      const old = await checkEnvoyVersion(wrapper);
      assert.equal(old.version?.version, '1.20.0-dev');
      assert.equal(old.warning?.code, 'ENVOY_VERSION_UNSUPPORTED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const missing = await checkEnvoyVersion('/nonexistent/envoy');
    assert.equal(missing.warning?.code, 'ENVOY_VERSION_UNAVAILABLE');
  },
);

test(
  'checkEnvoyVersion kills what `--version` left running, and an ended signal gives no warning',
  { timeout: 20_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'corral-version-'));
    let leftover: number | undefined;
    try {
      // A binary whose `--version` leaves a process behind in its group.
      const wrapper = join(dir, 'leaky-envoy');
      const pidFile = join(dir, 'pid');
      await writeFile(
        wrapper,
        `#!/bin/sh\nsleep 300 >/dev/null 2>&1 &\necho $! > ${pidFile}\nexec ${envoyDouble} "$@"\n`,
        { mode: 0o755 },
      );
      const check = await checkEnvoyVersion(wrapper);
      assert.equal(check.version?.version, '1.31.2');
      leftover = Number(await readFile(pidFile, 'utf8'));
      await waitGone([leftover]);

      // The caller gave up (the run ended): nothing to warn about.
      const ended = await checkEnvoyVersion(envoyDouble, { signal: AbortSignal.abort() });
      assert.deepEqual(ended, { version: undefined, warning: undefined });
    } finally {
      if (leftover !== undefined) killPids([leftover]);
      await rm(dir, { recursive: true, force: true });
    }
  },
);
