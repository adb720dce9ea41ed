import { createRequire } from 'node:module';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Runs the `corral` command line and returns the exit code. Until the CLI issue, only --version and --help. */
export function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--version')) {
    process.stdout.write(`corral ${version}\n`);
    return Promise.resolve(0);
  }
  process.stdout.write('usage: corral --version | --help\n');
  return Promise.resolve(argv.includes('--help') ? 0 : 2);
}
