#!/bin/sh
':' /*
# A shell reads these lines, Node a comment. PID 1 (a container's entrypoint) gets Corral's init,
# which reaps orphans, forwards signals and exits with Corral's status (see corral-init). This must
# happen here, before Node: Node 20 cannot exec, and a child of Node as init would leave Node as
# PID 1, the parent of every orphan. CORRAL_NO_INIT=1 turns it off.
if [ "$$" = 1 ] && [ -z "${CORRAL_NO_INIT-}" ]; then
  exec /bin/sh "$(dirname "$(readlink -f "$0")")/corral-init" node "$0" "$@"
fi
exec node "$0" "$@"
*/
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
