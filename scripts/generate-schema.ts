/**
 * Writes schema/corral.schema.json from the stack-file schema (src/stackfile/schema.ts), so that
 * editors validate and complete stack files. Run after changing the schema:
 *   node --import tsx scripts/generate-schema.ts
 * test/cli/stack-file.test.ts fails while the committed file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderStackJsonSchema } from '../src/stackfile/json-schema.js';

const target = fileURLToPath(new URL('../schema/corral.schema.json', import.meta.url));
writeFileSync(target, renderStackJsonSchema());
process.stdout.write(`wrote ${target}\n`);
