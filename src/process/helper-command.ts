import type { Readable } from 'node:stream';
import { lookupBinary } from './lookup.js';
import { spawnChild, type ExitStatus } from './spawn.js';
import { signalQuietly } from '../util/process-group.js';

/**
 * A component's helper commands (an `exec` readiness probe, a drain's connections command) run
 * inside the same protection layers as the component: in a session and process group of their
 * own with a parent-death signal (spawn.ts), in the component's cgroup, and registered with the
 * watchdog while they run. So a SIGKILL of Corral in the middle of a probe or a drain leaves
 * nothing behind, and a command never outlives its own run either: once it exits, or when the
 * caller gives up on it, its whole process group gets SIGKILL.
 */

/** The layers a helper command runs in; {@link Containment.commands} gives a component's. */
export interface CommandContainment {
  /** Command prefix that makes the command join its cgroup before the program runs. */
  readonly prefix: readonly string[];
  /** Whether to ask for a parent-death signal. @default true */
  readonly parentDeathSignal?: boolean;
  /**
   * Told the process group of the command as soon as it is forked (to register it with the
   * watchdog); the function it returns is called once the group has been SIGKILLed.
   */
  readonly trackGroup?: (pgid: number) => () => void;
}

export interface HelperCommandOptions {
  /** Gives up: the command's group gets SIGKILL, and the run rejects with `signal.reason`. */
  readonly signal: AbortSignal;
  /** @default Corral's */
  readonly cwd?: string;
  /** The whole environment of the command. @default Corral's */
  readonly env?: NodeJS.ProcessEnv;
  /** @default a parent-death signal only: no cgroup, no watchdog */
  readonly containment?: CommandContainment;
  /** Keep up to this many characters of stdout; more ends the command (`overflowed`). @default stdout is discarded */
  readonly stdoutLimit?: number;
  /** Keep the last this many characters of stderr. @default stderr is discarded */
  readonly stderrTail?: number;
}

export interface HelperCommandResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
  /** It printed more than `stdoutLimit` and was killed for it. */
  readonly overflowed: boolean;
}

/** How a command ended, for messages: `exited with code 3`, `was killed by SIGKILL`. */
export function describeEnding(result: ExitStatus): string {
  return result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}

/** How long output is still read after the command exited; a process that escaped may hold it. */
const OUTPUT_GRACE_MS = 50;

/**
 * Runs `argv` (no shell; the program looked up like a component's binary) as described in the
 * module doc, and resolves once it has exited, its group has been SIGKILLed and its output read.
 * Rejects with `signal.reason` once `signal` aborts (after the group was killed and the command
 * reaped), with a BinaryLookupError when the program is not found, and with a SpawnError when it
 * cannot be started.
 */
export async function runHelperCommand(
  argv: readonly string[],
  options: HelperCommandOptions,
): Promise<HelperCommandResult> {
  const { signal, containment } = options;
  const [program = '', ...args] = argv;
  const binary = await lookupBinary(program, { cwd: options.cwd, path: options.env?.PATH });
  signal.throwIfAborted();
  let untrack: (() => void) | undefined;
  const spawned = await spawnChild({
    argv: [binary, ...args],
    prefix: containment?.prefix ?? [],
    parentDeathSignal: containment?.parentDeathSignal ?? true,
    onFork: (pid) => {
      untrack = containment?.trackGroup?.(pid);
    },
    cwd: options.cwd,
    baseEnv: options.env,
    stdout: options.stdoutLimit === undefined ? 'ignore' : 'pipe',
    stderr: options.stderrTail === undefined ? 'ignore' : 'pipe',
  }).catch((error: unknown) => {
    untrack?.(); // nothing runs in the group
    throw error;
  });
  const { child, pid } = spawned;
  let killed = false;
  const killGroup = (): void => {
    if (killed) return;
    killed = true;
    signalQuietly(-pid, 'SIGKILL');
    untrack?.();
  };
  let overflowed = false;
  const stdout = collect(child.stdout, options.stdoutLimit ?? 0, 'head', () => {
    overflowed = true;
    killGroup();
  });
  const stderr = collect(child.stderr, options.stderrTail ?? 0, 'tail');
  signal.addEventListener('abort', killGroup, { once: true });
  if (signal.aborted) killGroup();
  try {
    const status = await spawned.exited;
    // Sweeps up whatever the command left running in its group.
    killGroup();
    const timer = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, OUTPUT_GRACE_MS);
    const output = await Promise.all([stdout, stderr]).finally(() => clearTimeout(timer));
    signal.throwIfAborted();
    return { ...status, stdout: output[0], stderr: output[1], overflowed };
  } finally {
    signal.removeEventListener('abort', killGroup);
  }
}

/**
 * The text of `stream` until it closes: its first `limit` characters (`head`, calling `onOverflow`
 * once past them) or its last `limit` (`tail`). An absent stream is empty.
 */
function collect(
  stream: Readable | null,
  limit: number,
  keep: 'head' | 'tail',
  onOverflow?: () => void,
): Promise<string> {
  if (!stream) return Promise.resolve('');
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (keep === 'tail') {
      text = (text + chunk).slice(-limit);
    } else if (text.length + chunk.length > limit) {
      onOverflow?.();
    } else {
      text += chunk;
    }
  });
  return new Promise((resolve) => stream.once('close', () => resolve(text)));
}
