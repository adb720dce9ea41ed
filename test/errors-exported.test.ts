import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CorralError } from '../src/core/errors.js';

// Callers branch on an error's class and `code`; they can only do that with classes they can
// import. So every error class Corral throws is exported from one of the package's entry points.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The source module of each entry point in package.json's `exports` (`./dist/x.js` → `src/x.ts`). */
async function entryPoints(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { default?: string }>;
  };
  return Object.values(pkg.exports)
    .map((target) => (typeof target === 'string' ? target : target.default))
    .filter((target): target is string => target?.startsWith('./dist/') === true)
    .map((target) => join(ROOT, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')));
}

/** Every CorralError class that a module under src/ exports, by `file: name`. */
async function errorClasses(): Promise<Map<string, unknown>> {
  const files = (await readdir(join(ROOT, 'src'), { withFileTypes: true, recursive: true }))
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
  const classes = new Map<string, unknown>();
  for (const file of files) {
    // Only modules that declare a class are imported: importing the CLI's main would run it.
    if (!/^export class \w+ extends /m.test(await readFile(file, 'utf8'))) continue;
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      const isError =
        value === CorralError || (typeof value === 'function' && value.prototype instanceof CorralError);
      // A class re-exported by another module is listed once, where it is found first.
      if (isError && ![...classes.values()].includes(value))
        classes.set(`${relative(ROOT, file)}: ${name}`, value);
    }
  }
  return classes;
}

test('every error class Corral throws is exported from an entry point of the package', async () => {
  const exported = new Set<unknown>();
  for (const entry of await entryPoints()) {
    for (const value of Object.values((await import(pathToFileURL(entry).href)) as object))
      exported.add(value);
  }
  const classes = await errorClasses();
  // The classes the core and a process component throw are found, so the scan itself works.
  for (const name of ['ComponentFailedError', 'InvalidProbeError', 'ProcessExitError']) {
    assert.ok(
      [...classes.keys()].some((key) => key.endsWith(`: ${name}`)),
      `${name} is among the classes found`,
    );
  }
  const missing = [...classes].filter(([, value]) => !exported.has(value)).map(([key]) => key);
  assert.deepEqual(missing, []);
});
