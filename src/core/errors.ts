import type { ComponentStopReason } from './events.js';

/**
 * Every error Corral raises is a {@link CorralError} with a stable `code` and structured fields.
 * Callers branch on `code` and read the fields; nobody parses messages. Each subclass narrows
 * `code` to the literal codes it can carry.
 */
export class CorralError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One component's failure: which component, and what it failed with (any value, not only Errors). */
export interface ComponentFailure {
  readonly component: string;
  readonly error: unknown;
}

/** Renders a thrown value for a message, whatever it is. */
export function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    // JSON.stringify returns undefined for functions and symbols, despite its declared type.
    const json = JSON.stringify(value) as string | undefined;
    return typeof json === 'string' ? json : String(value);
  } catch {
    return String(value);
  }
}

/**
 * `run` rejects with this when a component failed. `cause` is exactly what the component threw;
 * failures that came later, while everything else was being stopped, are kept in `laterFailures`.
 */
export class ComponentFailedError extends CorralError<'COMPONENT_FAILED'> {
  readonly component: string;
  readonly laterFailures: readonly ComponentFailure[];

  constructor(failure: ComponentFailure, laterFailures: readonly ComponentFailure[] = []) {
    const later = laterFailures.length
      ? ` (and later: ${laterFailures.map((f) => `\`${f.component}\`: ${describe(f.error)}`).join('; ')})`
      : '';
    const message = `component \`${failure.component}\` failed: ${describe(failure.error)}${later}`;
    super('COMPONENT_FAILED', message, { cause: failure.error });
    this.component = failure.component;
    this.laterFailures = laterFailures;
  }
}

/** A component still running when the shutdown budget ran out, and what it was doing. */
export interface StuckComponent {
  readonly component: string;
  /** `draining`, `stopping`, or `waiting` (held back until its dependents finish). */
  readonly phase: 'draining' | 'stopping' | 'waiting';
  /** How long it has been in that phase. */
  readonly forMs: number;
}

/** The whole stop exceeded `shutdownTimeout`; `stuck` lists every component still running. */
export class ShutdownTimeoutError extends CorralError<'SHUTDOWN_TIMEOUT'> {
  /** `failure` is the one that started the shutdown, if one did. */
  constructor(
    readonly timeoutMs: number,
    readonly stuck: readonly StuckComponent[],
    readonly failure?: ComponentFailedError,
  ) {
    const who = stuck.map((s) => `\`${s.component}\` (${s.phase} for ${formatMs(s.forMs)})`).join(', ');
    const message = `shutdown did not finish within ${formatMs(timeoutMs)}; still running: ${who}`;
    super('SHUTDOWN_TIMEOUT', message, { cause: failure });
  }
}

export type InvalidStackCode =
  | 'DEPENDENCY_CYCLE'
  | 'UNKNOWN_DEPENDENCY'
  | 'DUPLICATE_COMPONENT'
  | 'LEADER_DEPENDENCY'
  | 'ALREADY_RUNNING'
  | 'MANAGER_STOPPED'
  | 'UNKNOWN_COMPONENT';

/** The component set cannot run as declared; raised before anything starts. */
export class InvalidStackError extends CorralError<InvalidStackCode> {
  constructor(
    code: InvalidStackCode,
    message: string,
    readonly component?: string,
  ) {
    super(code, message);
  }
}

/** The restart wrapper gave up: more than `maxRestarts` restarts within `windowMs`. */
export class RestartLimitError extends CorralError<'RESTART_LIMIT'> {
  constructor(
    readonly component: string,
    readonly restarts: number,
    readonly windowMs: number,
    cause: unknown,
  ) {
    const within = `${restarts} restarts within ${formatMs(windowMs)}`;
    super('RESTART_LIMIT', `component \`${component}\` gave up after ${within}: ${describe(cause)}`, {
      cause,
    });
  }
}

/**
 * What a component's signal aborts with when it is asked to stop, `reason` saying why; also what
 * `Manager.whenReady` rejects with when the run stopped before every component was ready.
 */
export class StopRequest extends CorralError<'STOP_REQUESTED'> {
  constructor(readonly reason: ComponentStopReason) {
    super('STOP_REQUESTED', `stop requested (${reason})`);
  }
}

/** `1500` → `1.5s`, `250` → `250ms`: the one duration style of every message. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
}
