import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { describe } from '../runtime/errors.js';
import { Redactor } from '../util/redact.js';
import { loadStack, StackFileError } from './stack-file.js';
import type { LogFormat, LogLevel } from './render.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Exit codes: 0 clean, 1 a component failed or the shutdown budget ran out, 2 usage or stack file. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const USAGE = `usage: corral <command> [options]

commands:
  run     run the stack until a signal, a failure, or a component ending on its own
  check   validate the stack file and print start order, stop order and every timeout

options:
  -f, --file FILE            stack file (default: corral.yaml in the working directory)
      --log-format FORMAT    pretty or json (default: pretty on a terminal, json otherwise)
      --log-level LEVEL      trace, debug, info, warn, error or fatal (default: info)
  -h, --help                 show this help
  -v, --version              show the version

signals (run):
  SIGTERM, SIGINT, SIGHUP    1st: drain and stop in reverse order; 2nd: skip the drain; 3rd: SIGKILL all, exit 1
  SIGUSR2                    drain every drainable component and report not ready, without stopping

exit codes: 0 clean stop, 1 a component failed or the shutdown timed out, 2 usage or stack-file error
`;

const FORMATS: readonly LogFormat[] = ['pretty', 'json'];
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Runs the `corral` command line and resolves to the exit code. Never rejects. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        file: { type: 'string', short: 'f' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    return usageError(describe(error));
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`corral ${version}\n`);
    return EXIT.ok;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  const [command, ...extra] = positionals;
  if (command !== 'run' && command !== 'check') {
    return usageError(command === undefined ? 'no command given' : `unknown command "${command}"`);
  }
  if (extra.length > 0) return usageError(`unexpected argument "${extra[0] ?? ''}"`);
  const format = values['log-format'];
  if (format !== undefined && !FORMATS.includes(format as LogFormat)) {
    return usageError(`--log-format must be pretty or json, got "${format}"`);
  }
  const level = values['log-level'];
  if (level !== undefined && !LEVELS.includes(level as LogLevel)) {
    return usageError(`--log-level must be one of ${LEVELS.join(', ')}, got "${level}"`);
  }

  const file = values.file ?? 'corral.yaml';
  // Learns every value the stack file takes from the environment: nothing Corral prints shows one.
  const redactor = new Redactor();
  let stack;
  try {
    stack = await loadStack(file, { env: process.env, redactor });
  } catch (error) {
    const message = error instanceof StackFileError ? error.message : describe(error);
    process.stderr.write(`corral: ${redactor.text(message)}\n`);
    return EXIT.usage;
  }
  // Each command imports its own modules: `check` needs none of the runtime, and a long-running
  // `run` would keep `check`'s in memory for nothing.
  if (command === 'check') {
    const { checkCommand } = await import('./check.js');
    process.stdout.write(redactor.text(checkCommand(stack, file)));
    return EXIT.ok;
  }
  const { runCommand } = await import('./run.js');
  return runCommand({
    stack,
    file,
    argv,
    redactor,
    ...(format !== undefined && { format: format as LogFormat }),
    ...(level !== undefined && { level: level as LogLevel }),
  });
}

function usageError(message: string): number {
  process.stderr.write(`corral: ${message}\n\n${USAGE}`);
  return EXIT.usage;
}
