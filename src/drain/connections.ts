import { spawn } from 'node:child_process';
import { redactUrl } from '../util/redact.js';
import { ConnectionsProbeError } from './errors.js';
import { httpRequest } from './http.js';
import type { ConnectionCounter } from './idle.js';

/**
 * Where a drain reads the active connections: an HTTP GET whose body is the count, or a command
 * (an argument array, run without a shell) that prints the count and exits 0.
 */
export type ConnectionsProbe =
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 'exec'; readonly command: readonly string[] };

/** Output beyond this is not a count; the probe fails rather than buffering it. */
const MAX_OUTPUT_BYTES = 4096;

/** Parses a count: a non-negative integer, surrounding whitespace allowed, nothing else. */
export function parseCount(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d{1,15}$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** The counter for a declared probe. */
export function counterFor(probe: ConnectionsProbe): ConnectionCounter {
  if (probe.kind === 'http') return (signal) => countOverHttp(probe.url, signal);
  return (signal) => countFromCommand(probe.command, signal);
}

/** GETs `url`; resolves the count in a 2xx body, rejects with {@link ConnectionsProbeError} otherwise. */
export async function countOverHttp(url: string, signal: AbortSignal): Promise<number> {
  let response;
  try {
    response = await httpRequest({ url, signal, maxBodyBytes: MAX_OUTPUT_BYTES });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ConnectionsProbeError((error as Error).message);
  }
  if (response.status < 200 || response.status > 299) {
    throw new ConnectionsProbeError(`GET ${redactUrl(url)} answered ${response.status}`);
  }
  const count = parseCount(response.body);
  if (count === undefined) {
    throw new ConnectionsProbeError(`GET ${redactUrl(url)} did not answer with a count`);
  }
  return count;
}

/**
 * Runs `argv` in its own process group and resolves the count it prints. On abort, or once it has
 * exited, the whole group is SIGKILLed so that nothing the probe started outlives it. Messages name
 * only the program, since arguments may carry tokens.
 */
export function countFromCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new ConnectionsProbeError('empty connections command'));
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    let output = '';
    let tooLong = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already empty.
      }
    };
    const onAbort = (): void => {
      killGroup();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (output.length + chunk.length > MAX_OUTPUT_BYTES) {
        tooLong = true;
        killGroup();
      } else {
        output += chunk;
      }
    });
    // A grandchild holding stdout open would delay 'close'; kill the group as soon as the probe exits.
    child.on('exit', killGroup);
    child.on('error', (error: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new ConnectionsProbeError(`connections command \`${file}\` could not run: ${error.code ?? 'error'}`),
      );
    });
    child.on('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const count = parseCount(output);
      if (tooLong) {
        reject(new ConnectionsProbeError(`connections command \`${file}\` printed more than a count`));
      } else if (code !== 0) {
        const how = killedBy ? `was killed by ${killedBy}` : `exited with ${code}`;
        reject(new ConnectionsProbeError(`connections command \`${file}\` ${how}`));
      } else if (count === undefined) {
        reject(new ConnectionsProbeError(`connections command \`${file}\` did not print a count`));
      } else {
        resolve(count);
      }
    });
  });
}
