import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { describe } from '../core/errors.js';
import { Redactor } from '../util/redact.js';
import { loadStack, StackFileError } from '../stackfile/load.js';
import { parseDuration } from '../stackfile/duration.js';
import { EXIT } from './exit.js';
import { describeStartFailure } from './start-failure.js';
import type { LogFormat, LogLevel } from './render.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const USAGE = `usage: corral <command> [options]

commands:
  run     run the stack until a signal, a failure, or a component ending on its own
  check   validate the stack file and print start order, stop order and every timeout

  status [--json]         each component's state, pid, uptime, restarts, readiness, last exit and
                          leader term; exit 0 when the stack is ready, 3 otherwise
  stop [NAME...]          stop these components and what depends on them (the rest runs on);
                          without a name, stop the whole stack gracefully, like SIGTERM
  start NAME...           start stopped components again, with what they need and what depends on them
  restart NAME...         stop, then start, these components and what depends on them
  reload                  re-read the stack file: stop removed components, restart changed ones
                          (with their dependents), start added ones; nothing changes if it is invalid
  logs [NAME...] [-n N] [-f]
                          the last N lines (default 100) of each component's output; -f: then follow
  These ask the run of the stack file over its control socket (see --socket).

options:
  -f, --file FILE            stack file (default: corral.yaml in the working directory);
                             for logs, -f is --follow: give the file as --file
      --socket PATH          the run's control socket (default: derived from the stack file, in a
                             directory of mode 0700 in $XDG_RUNTIME_DIR or the temporary directory)
      --sighup ACTION        run: what SIGHUP does, reload (default) or stop (as SIGTERM does)
      --systemd-unit FILE    check: also check the systemd unit that runs corral: Type, TimeoutStopSec, KillMode
      --log-format FORMAT    pretty or json (default: pretty on a terminal, json otherwise)
      --log-level LEVEL      trace, debug, info, warn, error or fatal (default: info)
      --kubernetes-grace DURATION
                             check: does the shutdown fit this terminationGracePeriodSeconds (e.g. 30s)?
                             exit 1 when it does not
      --kubernetes-prestop DURATION
                             check: how long the preStop hook runs before SIGTERM (default 0s)
  -h, --help                 show this help
  -v, --version              show the version

signals (run):
  SIGTERM, SIGINT            1st: drain and stop in reverse order; 2nd: skip the drain; 3rd: SIGKILL all, exit 1
  SIGHUP                     reload the stack file (as corral reload); with --sighup=stop, as SIGTERM
  SIGUSR2                    drain every drainable component and report not ready, without stopping

environment (run):
  CORRAL_NO_INIT=1           as PID 1 (a container's entrypoint), run without Corral's init

exit codes: 0 clean stop, 1 a component failed, the shutdown timed out or stdout was closed,
            2 nothing could be started; control commands: 1 the run refused or could not be
            reached, 3 (status) the stack is not ready
`;

const FORMATS: readonly LogFormat[] = ['pretty', 'json'];
/** The commands that ask a running stack over its control socket. */
const CONTROL_COMMANDS = ['status', 'stop', 'start', 'restart', 'reload', 'logs'] as const;
type ControlCommand = (typeof CONTROL_COMMANDS)[number];
const SIGHUP_ACTIONS = ['reload', 'stop'] as const;
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Runs the `corral` command line and resolves to the exit code. Never rejects. */
export async function main(argv: readonly string[]): Promise<number> {
  // `logs -f` follows, as in `tail -f`: for `logs` the stack file is given as --file only.
  const logs =
    argv.find((arg) => (CONTROL_COMMANDS as readonly string[]).includes(arg) || arg === 'run') === 'logs';
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        file: logs ? { type: 'string' } : { type: 'string', short: 'f' },
        follow: logs ? { type: 'boolean', short: 'f' } : { type: 'boolean' },
        lines: { type: 'string', short: 'n' },
        json: { type: 'boolean' },
        socket: { type: 'string' },
        sighup: { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        'systemd-unit': { type: 'string' },
        'kubernetes-grace': { type: 'string' },
        'kubernetes-prestop': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    return await usageError(describe(error));
  }
  const { values, positionals } = parsed;
  if (values.version) {
    await print(process.stdout, `corral ${version}\n`);
    return EXIT.ok;
  }
  if (values.help) {
    await print(process.stdout, USAGE);
    return EXIT.ok;
  }
  const [command, ...extra] = positionals;
  if ((CONTROL_COMMANDS as readonly (string | undefined)[]).includes(command)) {
    return controlCommand(command as ControlCommand, extra, values);
  }
  if (command !== 'run' && command !== 'check') {
    return await usageError(command === undefined ? 'no command given' : `unknown command "${command}"`);
  }
  for (const option of ['json', 'lines', 'follow'] as const) {
    if (values[option] !== undefined)
      return await usageError(`--${option} is an option of the control commands`);
  }
  if (values.socket !== undefined && command !== 'run') {
    return await usageError('--socket is an option of `corral run` and of the control commands');
  }
  const sighup = values.sighup;
  if (sighup !== undefined && command !== 'run')
    return await usageError('--sighup is an option of `corral run`');
  if (sighup !== undefined && !(SIGHUP_ACTIONS as readonly string[]).includes(sighup)) {
    return await usageError(`--sighup must be reload or stop, got "${sighup}"`);
  }
  if (extra.length > 0) return await usageError(`unexpected argument "${extra[0] ?? ''}"`);
  const systemdUnit = values['systemd-unit'];
  if (systemdUnit !== undefined && command !== 'check') {
    return await usageError('--systemd-unit is an option of `corral check`');
  }
  const format = values['log-format'];
  if (format !== undefined && !FORMATS.includes(format as LogFormat)) {
    return await usageError(`--log-format must be pretty or json, got "${format}"`);
  }
  const level = values['log-level'];
  if (level !== undefined && !LEVELS.includes(level as LogLevel)) {
    return await usageError(`--log-level must be one of ${LEVELS.join(', ')}, got "${level}"`);
  }
  const kubernetes = kubernetesGrace(values['kubernetes-grace'], values['kubernetes-prestop']);
  if (typeof kubernetes === 'string') return await usageError(kubernetes);
  if (kubernetes && command !== 'check') {
    return await usageError('--kubernetes-grace and --kubernetes-prestop are options of check');
  }

  const file = values.file ?? 'corral.yaml';
  // Learns every value the stack file takes from the environment: nothing Corral prints shows one.
  const redactor = new Redactor();
  let stack;
  try {
    stack = await loadStack(file, { env: process.env, redactor });
  } catch (error) {
    const message = error instanceof StackFileError ? error.message : describe(error);
    await print(process.stderr, `corral: ${redactor.text(message)}\n`);
    return EXIT.usage;
  }
  // Each command imports its own modules: `check` needs none of the runtime, and a long-running
  // `run` would keep `check`'s in memory for nothing.
  try {
    if (command === 'check') {
      const { checkCommand } = await import('./check.js');
      let text = checkCommand(stack, file);
      if (systemdUnit !== undefined) {
        text += `\n${await (await import('./systemd-unit.js')).checkSystemdUnit(stack, systemdUnit)}`;
      }
      await print(process.stdout, redactor.text(text));
      if (!kubernetes) return EXIT.ok;
      const verdict = (await import('./kubernetes-grace.js')).checkKubernetesGrace(stack, kubernetes);
      await print(process.stdout, redactor.text(verdict.text));
      // Asked whether it fits, a "no" must stop a CI pipeline: a shutdown cut by the kubelet is
      // the very bug Corral exists to prevent. 2 stays "the file is invalid".
      return verdict.fits ? EXIT.ok : EXIT.failed;
    }
    const { runCommand } = await import('./run.js');
    return await runCommand({
      stack,
      file,
      argv,
      redactor,
      ...(values.socket !== undefined && { socket: values.socket }),
      ...(sighup !== undefined && { sighup: sighup as 'reload' | 'stop' }),
      ...(format !== undefined && { format: format as LogFormat }),
      ...(level !== undefined && { level: level as LogLevel }),
    });
  } catch (error) {
    // A module that would not load, or a set-up step that failed: nothing was started.
    await print(process.stderr, `corral: ${redactor.text(describeStartFailure(error))}\n`);
    return EXIT.usage;
  }
}

/**
 * A control command: a client of the run's control socket (see operate.ts). The stack file is not
 * read, only located: the socket's default path is derived from it, and a client needs none of
 * the values the file takes from the environment.
 */
async function controlCommand(
  command: ControlCommand,
  names: readonly string[],
  values: {
    file?: string;
    socket?: string;
    json?: boolean;
    lines?: string;
    follow?: boolean;
    [option: string]: unknown;
  },
): Promise<number> {
  for (const option of [
    'log-format',
    'log-level',
    'systemd-unit',
    'kubernetes-grace',
    'kubernetes-prestop',
    'sighup',
  ]) {
    if (values[option] !== undefined)
      return await usageError(`--${option} is not an option of \`corral ${command}\``);
  }
  if (values.json && command !== 'status') return await usageError('--json is an option of `corral status`');
  if ((values.lines !== undefined || values.follow) && command !== 'logs') {
    return await usageError('-n and -f (follow) are options of `corral logs`');
  }
  if ((command === 'start' || command === 'restart') && names.length === 0) {
    return await usageError(`\`corral ${command}\` needs the names of the components`);
  }
  if ((command === 'status' || command === 'reload') && names.length > 0) {
    return await usageError(`unexpected argument "${names[0] ?? ''}"`);
  }
  const lines = values.lines === undefined ? 100 : Number(values.lines);
  if (!Number.isSafeInteger(lines) || lines < 0) {
    return await usageError(`-n must be a number of lines, got "${values.lines ?? ''}"`);
  }
  const { defaultSocketPath } = await import('../control/socket-path.js');
  const socket = values.socket ?? defaultSocketPath(values.file ?? 'corral.yaml');
  const operate = await import('./operate.js');
  try {
    switch (command) {
      case 'status':
        return await operate.statusCommand(socket, values.json ?? false, print);
      case 'logs':
        return await operate.logsCommand(socket, { names, lines, follow: values.follow ?? false }, print);
      default:
        return await operate.changeCommand(socket, command, names, print);
    }
  } catch (error) {
    await print(process.stderr, `corral: ${describe(error)}\n`);
    // For a health check, a run that cannot be asked is not a ready one.
    return command === 'status' ? EXIT.notReady : EXIT.failed;
  }
}

/** The `--kubernetes-*` options as milliseconds; undefined when not given; a message when malformed. */
function kubernetesGrace(
  grace: string | undefined,
  preStop: string | undefined,
): { graceMs: number; preStopMs: number } | undefined | string {
  if (grace === undefined) {
    return preStop === undefined ? undefined : '--kubernetes-prestop needs --kubernetes-grace';
  }
  const graceMs = parseDuration(grace);
  if (graceMs === undefined) return `--kubernetes-grace: expected a duration like "30s", got "${grace}"`;
  const preStopMs = preStop === undefined ? 0 : parseDuration(preStop);
  if (preStopMs === undefined) {
    return `--kubernetes-prestop: expected a duration like "5s", got "${preStop ?? ''}"`;
  }
  return { graceMs, preStopMs };
}

async function usageError(message: string): Promise<number> {
  await print(process.stderr, `corral: ${message}\n\n${USAGE}`);
  return EXIT.usage;
}

/**
 * Writes `text` and resolves once it was handed to the OS, so the process may exit; a reader that
 * went away (`corral check | head -1`) is no crash.
 */
function print(stream: NodeJS.WriteStream, text: string): Promise<void> {
  if (!stream.listeners('error').includes(ignore)) stream.on('error', ignore);
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

function ignore(): void {
  // See print.
}
