import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { CorralError } from '../runtime/errors.js';
import { redactUrls } from '../util/redact.js';

/**
 * One attempt of each polling probe kind. An attempt resolves with `undefined` when it passed
 * and with a short phrase saying how it failed otherwise (`answered 503`, `failed: connect
 * ECONNREFUSED 127.0.0.1:8080`), which the caller puts after the probe's description. It settles
 * promptly once `signal` aborts (the caller's attempt timeout or the whole wait's signal), and
 * leaves nothing behind: sockets are destroyed, an exec probe's process group is killed.
 */
export type Check = (signal: AbortSignal) => Promise<string | undefined>;

/** GET `url`; passes on `status`, or on any 2xx when `status` is unset. */
export function httpCheck(url: URL, status: number | undefined, redact: (text: string) => string): Check {
  return async (signal) => {
    // Imported on first use: Node's HTTP client (and for https its TLS and crypto) would otherwise
    // stay in memory for the whole run of every stack, with an HTTP probe or not (issue 3).
    const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
    return new Promise((resolve) => {
      // agent: false: one connection per attempt, closed after it, so no idle socket lingers.
      const req = request(url, { method: 'GET', agent: false, signal }, (response) => {
        const code = response.statusCode ?? 0;
        response.destroy();
        const passed = status === undefined ? code >= 200 && code < 300 : code === status;
        resolve(
          passed ? undefined : `answered ${code}${status === undefined ? '' : ` (expected ${status})`}`,
        );
      });
      req.on('error', (error) => {
        resolve(`failed: ${redact(reasonOf(error, signal))}`);
      });
      req.end();
    });
  };
}

/** A TCP connection to host:port is accepted (then closed at once). */
export function tcpCheck(host: string, port: number): Check {
  return (signal) =>
    new Promise((resolve) => {
      const socket = connect({ host, port });
      const onAbort = (): void => {
        socket.destroy();
        resolve(`failed: ${reasonOf(undefined, signal)}`);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        resolve(`failed: ${reasonOf(error, signal)}`);
      });
    });
}

/** How much of an exec probe's stderr is kept for the failure message. */
const STDERR_TAIL = 200;

/**
 * The probe command could not be run at all (not found, not executable): retrying cannot help.
 * The message names only the program, since arguments may carry tokens.
 */
export class ProbeCommandError extends CorralError {
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

/** Where and how `exec` probe commands run; pass the component's directory and environment. */
export interface ExecContext {
  /** @default Corral's */
  readonly cwd?: string;
  /** The whole environment of the command. @default Corral's */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Commands put in front of the probe command, each of which must end by exec'ing the rest of
   * its argv, e.g. `['setpriv', '--pdeathsig', 'KILL', '--']` so that the probe dies with Corral.
   */
  readonly prefix?: readonly string[];
  /**
   * Told the process group of every probe command as it starts (to register it with the
   * watchdog); the function it returns is called once the group has been killed.
   */
  readonly trackGroup?: (pgid: number) => () => void;
}

/**
 * Runs `argv` (no shell) in a session and process group of its own; passes when it exits 0.
 * Nothing it starts outlives the attempt: when the attempt is aborted the whole group gets
 * SIGKILL at once, and when the command exits its group gets SIGKILL too, sweeping up anything it
 * left running. (The group id cannot be reused meanwhile: while a group has members, and while
 * the leader is unreaped, the kernel gives its id to no new process.) Settles once the leader is
 * gone. Rejects with {@link ProbeCommandError} when the command cannot be started.
 */
export function execCheck(argv: readonly string[], context: ExecContext): Check {
  const [command = '', ...args] = [...(context.prefix ?? []), ...argv];
  return (signal) =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: context.cwd,
        env: context.env,
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      const pgid = child.pid;
      const untrack = pgid === undefined ? undefined : context.trackGroup?.(pgid);
      let killed = false;
      const killGroup = (): void => {
        if (killed || pgid === undefined) return;
        killed = true;
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // The group is already empty.
        }
        untrack?.();
      };
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        stderr = (stderr + text).slice(-STDERR_TAIL);
      });
      signal.addEventListener('abort', killGroup, { once: true });
      child.once('error', (error) => {
        signal.removeEventListener('abort', killGroup);
        untrack?.();
        reject(new ProbeCommandError(argv, error));
      });
      child.once('exit', () => {
        killGroup();
        // Wait for 'close' to have all of stderr, but not for a process that escaped the group.
        setTimeout(() => child.stderr.destroy(), 50).unref();
      });
      child.once('close', (code, exitSignal) => {
        signal.removeEventListener('abort', killGroup);
        const last = stderr.trim().split('\n').at(-1);
        const said = last ? ` (stderr: ${last})` : '';
        if (code === 0) resolve(undefined);
        else if (signal.aborted) resolve(`failed: ${reasonOf(undefined, signal)}`);
        else
          resolve(
            code === null
              ? `was killed by ${exitSignal ?? 'a signal'}${said}`
              : `exited with code ${code}${said}`,
          );
      });
    });
}

/** Why an attempt ended: the abort reason when it was aborted, else the error's message. */
function reasonOf(error: Error | undefined, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof Error ? reason.message : String(reason);
  }
  return error?.message ?? 'unknown error';
}
