#!/usr/bin/env node
// The CLI entry point: the real work lives in dist/cli/main.js (built by `npm run build`).
import { describeStartFailure } from '../dist/cli/start-failure.js';

let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (error) {
  // Loading opens many files at once: a low open-file limit fails here, and deserves one line.
  process.stderr.write(`corral: ${describeStartFailure(error)}\n`);
  process.exit(2);
}

// main resolves once its output was handed over (or could not be), and everything Corral started
// has finished: exit at once instead of waiting for Node to wind down on its own, which costs tens
// of milliseconds of a shutdown and would wait for ever on a reader that stopped reading.
process.exit(await main(process.argv.slice(2)));
