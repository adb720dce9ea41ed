import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BinaryLookupError, checkBinaries, lookupBinary, PreflightError } from '../../src/process/lookup.js';

let root: string;
let pathDir: string;
let work: string;
let corralDir: string;

async function executable(path: string, mode = 0o755): Promise<void> {
  await writeFile(path, '#!/bin/sh\nexit 0\n');
  await chmod(path, mode);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'corral-lookup-'));
  pathDir = join(root, 'path');
  work = join(root, 'work');
  corralDir = join(root, 'corral');
  for (const dir of [pathDir, work, corralDir, join(corralDir, 'bin')]) await mkdir(dir, { recursive: true });
  await executable(join(pathDir, 'on-path'));
  await executable(join(pathDir, 'everywhere'));
  await executable(join(work, 'everywhere'));
  await executable(join(work, 'in-cwd'));
  await executable(join(corralDir, 'next-to-corral'));
  await executable(join(corralDir, 'bin', 'in-corral-bin'));
  await executable(join(work, 'no-x-bit'), 0o644);
  await mkdir(join(work, 'a-directory'));
});

after(() => rm(root, { recursive: true, force: true }));

const options = () => ({ cwd: work, path: pathDir, corralPath: join(corralDir, 'corral.js') });

test('finds a name on PATH first, then in the working directory, then next to corral', async () => {
  assert.equal(await lookupBinary('on-path', options()), join(pathDir, 'on-path'));
  assert.equal(await lookupBinary('everywhere', options()), join(pathDir, 'everywhere'));
  assert.equal(await lookupBinary('in-cwd', options()), join(work, 'in-cwd'));
  assert.equal(await lookupBinary('next-to-corral', options()), join(corralDir, 'next-to-corral'));
  assert.equal(await lookupBinary('in-corral-bin', options()), join(corralDir, 'bin', 'in-corral-bin'));
});

test('a configured path is used as given (relative to the working directory), then by its name', async () => {
  assert.equal(await lookupBinary('./in-cwd', options()), join(work, 'in-cwd'));
  assert.equal(await lookupBinary(join(pathDir, 'on-path'), options()), join(pathDir, 'on-path'));
  // A wrong directory still finds the binary of that name beside corral, as kuma-dp does.
  assert.equal(
    await lookupBinary('/nonexistent/next-to-corral', options()),
    join(corralDir, 'next-to-corral'),
  );
});

test('a missing binary fails naming every place looked, with shell status 127', async () => {
  const error = await lookupBinary('envoy', options(), 'proxy').then(
    () => assert.fail('should not be found'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof BinaryLookupError);
  assert.equal(error.code, 'BINARY_NOT_FOUND');
  assert.equal(error.exitStatus, 127);
  assert.equal(error.component, 'proxy');
  assert.deepEqual(
    error.searched.map((c) => c.path),
    [join(pathDir, 'envoy'), join(work, 'envoy'), join(corralDir, 'envoy'), join(corralDir, 'bin', 'envoy')],
  );
  assert.match(error.message, /^component `proxy`: binary `envoy` not found; looked in /);
  for (const candidate of error.searched) assert.ok(error.message.includes(candidate.path));
});

test('a file without an execute bit, or a directory, is not executable (126) and is skipped', async () => {
  for (const name of ['no-x-bit', 'a-directory']) {
    const error = await lookupBinary(name, options()).catch((e: unknown) => e);
    assert.ok(error instanceof BinaryLookupError, name);
    assert.equal(error.code, 'BINARY_NOT_EXECUTABLE');
    assert.equal(error.exitStatus, 126);
    assert.match(error.message, new RegExp(`binary \`${name}\` is not executable \\(${join(work, name)}\\)`));
  }
});

test('checkBinaries resolves every component, or reports every failure at once', async () => {
  const resolved = await checkBinaries([
    { component: 'a', binary: 'on-path', ...options() },
    { component: 'b', binary: 'in-cwd', ...options() },
  ]);
  assert.deepEqual(
    [...resolved],
    [
      ['a', join(pathDir, 'on-path')],
      ['b', join(work, 'in-cwd')],
    ],
  );

  const one = await checkBinaries([
    { component: 'a', binary: 'on-path', ...options() },
    { component: 'b', binary: 'missing-b', ...options() },
  ]).catch((e: unknown) => e);
  assert.ok(one instanceof BinaryLookupError);
  assert.equal(one.component, 'b');

  const several = await checkBinaries([
    { component: 'a', binary: 'missing-a', ...options() },
    { component: 'b', binary: 'missing-b', ...options() },
  ]).catch((e: unknown) => e);
  assert.ok(several instanceof PreflightError);
  assert.deepEqual(
    several.failures.map((f) => f.component),
    ['a', 'b'],
  );
  assert.match(several.message, /`a`.*\n.*`b`/);
});
