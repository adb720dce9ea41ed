import { connect } from 'node:net';
import { CorralError } from '../../core/errors.js';
import { describeEnding, type HelperCommandOptions, runHelperCommand } from '../helper-command.js';
import { HttpCallError, httpRequest } from '../../util/http.js';
import { redactUrls } from '../../util/redact.js';

/**
 * One attempt of each polling probe kind. An attempt resolves with `undefined` when it passed
 * and with a short phrase saying how it failed otherwise (`answered 503`, `failed: connect
 * ECONNREFUSED 127.0.0.1:8080`), which the caller puts after the probe's description. It settles
 * promptly once `signal` aborts (the caller's attempt timeout or the whole wait's signal), and
 * leaves nothing behind: sockets are destroyed, an exec probe's process group is killed.
 */
export type Check = (signal: AbortSignal) => Promise<string | undefined>;

/** GET `url`; passes on `status`, or on any 2xx when `status` is unset. The body is not read. */
export function httpCheck(url: URL, status: number | undefined, redact: (text: string) => string): Check {
  return async (signal) => {
    let code: number;
    try {
      ({ status: code } = await httpRequest({ url: url.href, signal, readBody: false }));
    } catch (error) {
      // The network error alone (`connect ECONNREFUSED …`): the probe's description names the URL.
      const cause = error instanceof HttpCallError && error.cause instanceof Error ? error.cause : error;
      return `failed: ${redact(reasonOf(cause as Error, signal))}`;
    }
    const passed = status === undefined ? code >= 200 && code < 300 : code === status;
    return passed ? undefined : `answered ${code}${status === undefined ? '' : ` (expected ${status})`}`;
  };
}

/** A TCP connection to host:port is accepted (then closed at once). */
export function tcpCheck(host: string, port: number): Check {
  return (signal) =>
    new Promise((resolve) => {
      // Aborting destroys the socket, which then fails with an AbortError: reasonOf gives the reason.
      const socket = connect({ host, port, signal });
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error) => resolve(`failed: ${reasonOf(error, signal)}`));
    });
}

/** How much of an exec probe's stderr is kept for the failure message. */
const STDERR_TAIL = 200;

/**
 * The probe command could not be run at all (not found, not executable): retrying cannot help.
 * The message names only the program, since arguments may carry tokens.
 */
export class ProbeCommandError extends CorralError<'PROBE_COMMAND'> {
  /** The command and its arguments, URLs in them redacted. */
  readonly command: readonly string[];

  constructor(command: readonly string[], cause: Error) {
    super(
      'PROBE_COMMAND',
      `readiness probe command \`${redactUrls(command[0] ?? '')}\` could not be started: ${redactUrls(cause.message)}`,
      { cause },
    );
    this.command = command.map(redactUrls);
  }
}

/** Where and how `exec` probe commands run: the component's directory, environment and layers. */
export type ExecContext = Pick<HelperCommandOptions, 'cwd' | 'env' | 'containment'>;

/**
 * Runs `argv` as a helper command of the component (see helper-command.ts); passes when it exits
 * 0. Rejects with {@link ProbeCommandError} when the command cannot be started.
 */
export function execCheck(argv: readonly string[], context: ExecContext): Check {
  return async (signal) => {
    let result;
    try {
      result = await runHelperCommand(argv, { ...context, signal, stderrTail: STDERR_TAIL });
    } catch (error) {
      if (signal.aborted) return `failed: ${reasonOf(undefined, signal)}`;
      throw new ProbeCommandError(argv, error as Error);
    }
    if (result.exitCode === 0) return undefined;
    const last = result.stderr.trim().split('\n').at(-1);
    return `${describeEnding(result)}${last ? ` (stderr: ${last})` : ''}`;
  };
}

/** Why an attempt ended: the abort reason when it was aborted, else the error's message. */
function reasonOf(error: Error | undefined, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof Error ? reason.message : String(reason);
  }
  return error?.message ?? 'unknown error';
}
