import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The core is the runtime every other part builds on: it imports nothing else in src, and no
// package either, only its own files and Node's built-ins.

const CORE = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/core');

/** Every module specifier in `source`: static imports and re-exports, side-effect and dynamic imports. */
function specifiers(source: string): string[] {
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1] ?? ''));
}

/** The specifiers of the file at `path` that reach outside the core. */
function outside(path: string, source: string): string[] {
  return specifiers(source).filter((specifier) => {
    if (specifier.startsWith('node:')) return false;
    if (!specifier.startsWith('.')) return true;
    const target = relative(CORE, resolve(dirname(path), specifier));
    return target.startsWith('..') || target.startsWith(sep);
  });
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

test('no file under src/core imports from outside src/core', async () => {
  const files = await sourceFiles(CORE);
  assert.ok(files.length >= 10, `found the core's files (${files.length})`);
  const found: string[] = [];
  for (const file of files) {
    for (const specifier of outside(file, await readFile(file, 'utf8'))) {
      found.push(`${relative(CORE, file)} imports ${specifier}`);
    }
  }
  assert.deepEqual(found, []);
});

test('the check sees every kind of import that leaves the core (negative control)', () => {
  const file = join(CORE, 'manager.ts');
  const source = [
    "import { redactUrl } from '../util/redact.js';",
    "import type { CorralEvent } from '../events.js';",
    "export { processComponent } from '../process/component.js';",
    "import '../containment/isolation.js';",
    "const pg = await import('pg');",
    "import pino from 'pino';",
    // Allowed: the core's own files, in folders too, and Node's built-ins.
    "import { Entry } from './entry.js';",
    "import type { Clock } from './sub/../clock.js';",
    "import { setTimeout } from 'node:timers/promises';",
  ].join('\n');
  assert.deepEqual(outside(file, source).sort(), [
    '../containment/isolation.js',
    '../events.js',
    '../process/component.js',
    '../util/redact.js',
    'pg',
    'pino',
  ]);
});
