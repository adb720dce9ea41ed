import { type CommandContainment, describeEnding, runHelperCommand } from '../process/helper-command.js';
import { redactUrl } from '../util/redact.js';
import { ConnectionsProbeError } from './errors.js';
import { httpRequest } from '../util/http.js';
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

/** The counter for a declared probe; an `exec` command runs inside `containment` when given. */
export function counterFor(probe: ConnectionsProbe, containment?: CommandContainment): ConnectionCounter {
  if (probe.kind === 'http') return (signal) => countOverHttp(probe.url, signal);
  return (signal) => countFromCommand(probe.command, signal, containment);
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
 * Runs `argv` as a helper command of the component (see helper-command.ts) and resolves the count
 * it prints. Messages name only the program, since arguments may carry tokens.
 */
export async function countFromCommand(
  argv: readonly string[],
  signal: AbortSignal,
  containment?: CommandContainment,
): Promise<number> {
  const file = argv[0];
  if (file === undefined) throw new ConnectionsProbeError('empty connections command');
  signal.throwIfAborted();
  let result;
  try {
    result = await runHelperCommand(argv, { signal, stdoutLimit: MAX_OUTPUT_BYTES, containment });
  } catch (error) {
    if (signal.aborted) throw signal.reason as Error;
    const code = (error as { code?: unknown }).code;
    throw new ConnectionsProbeError(
      `connections command \`${file}\` could not run: ${typeof code === 'string' ? code : 'error'}`,
    );
  }
  const count = parseCount(result.stdout);
  if (result.overflowed) {
    throw new ConnectionsProbeError(`connections command \`${file}\` printed more than a count`);
  }
  if (result.exitCode !== 0) {
    throw new ConnectionsProbeError(`connections command \`${file}\` ${describeEnding(result)}`);
  }
  if (count === undefined) {
    throw new ConnectionsProbeError(`connections command \`${file}\` did not print a count`);
  }
  return count;
}
