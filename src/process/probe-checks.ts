import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { CorralError } from '../runtime/errors.js';

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
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return (signal) =>
    new Promise((resolve) => {
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

/** The probe command could not be run at all (not found, not executable): retrying cannot help. */
export class ProbeCommandError extends CorralError {
  readonly command: readonly string[];

  constructor(command: readonly string[], cause: Error) {
    super(
      'PROBE_COMMAND',
      `readiness probe command \`${command.join(' ')}\` could not be started: ${cause.message}`,
      {
        cause,
      },
    );
    this.command = command;
  }
}

/**
 * Runs `argv` (no shell) in a session and process group of its own; passes when it exits 0. When
 * the attempt is aborted before the command exited, the whole group gets SIGKILL (while the leader
 * is unreaped its pid, and so the group id, cannot be reused), and the attempt settles once the
 * leader is gone. Rejects with {@link ProbeCommandError} when the command cannot be started.
 */
export function execCheck(
  argv: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv },
): Check {
  const [command = '', ...args] = argv;
  return (signal) =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        stderr = (stderr + text).slice(-STDERR_TAIL);
      });
      let exited = false;
      const onAbort = (): void => {
        if (exited || child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(new ProbeCommandError(argv, error));
      });
      child.once('exit', () => {
        exited = true;
        // Wait for 'close' to have all of stderr, but not for a background process holding it open.
        setTimeout(() => child.stderr.destroy(), 50).unref();
      });
      child.once('close', (code, exitSignal) => {
        signal.removeEventListener('abort', onAbort);
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
