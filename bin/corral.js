#!/usr/bin/env node
// The CLI entry point: the real work lives in dist/cli/main.js (built by `npm run build`).
import { once } from 'node:events';
import { describeStartFailure } from '../dist/cli/start-failure.js';
import { deferOptimization, limitYoungGeneration } from '../dist/cli/v8-flags.js';

// Before anything else is loaded, since loading is most of what start-up does (issue 3: memory).
limitYoungGeneration();
deferOptimization();
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (error) {
  // Loading opens many files at once: a low open-file limit fails here, and deserves one line.
  process.stderr.write(`corral: ${describeStartFailure(error)}\n`);
  process.exit(2);
}

const code = await main(process.argv.slice(2));
// Everything Corral started has finished by now, so exit at once instead of waiting for Node to
// wind down on its own (which costs tens of milliseconds of a shutdown). Output first: stdout and
// stderr are synchronous for files, terminals and pipes on Linux, but not everywhere.
for (const stream of [process.stdout, process.stderr]) {
  if (stream.writableLength > 0) await once(stream, 'drain');
}
process.exit(code);
