import { CorralError } from '../../core/errors.js';
import { formatHostPort, parseHostPort, type HostPort } from '../../util/address.js';
import { Redactor, redactUrl, redactUrls } from '../../util/redact.js';
import { type Check, type ExecContext, execCheck, httpCheck, tcpCheck } from './checks.js';

/**
 * Readiness probes: how a process component finds out that its program is ready, with an
 * interval between attempts and a start-up deadline. Durations are milliseconds.
 */
export interface ProbeTiming {
  /** Pause after a failed attempt before the next one. @default 250 */
  readonly interval?: number;
  /** Start-up deadline, counted from when waiting starts. @default 60_000 */
  readonly timeout?: number;
  /** The longest one attempt (a request, a connect, a command) may take; never past the deadline. @default 5_000 */
  readonly attemptTimeout?: number;
}

/** The defaults of {@link ProbeTiming}: for code, and for the stack file, whose schema shows them. */
export const PROBE_DEFAULTS = { interval: 250, timeout: 60_000, attemptTimeout: 5_000 } as const;

/**
 * One of: `{ http: url, status? }` a GET answered with `status` (default: any 2xx; credentials in
 * the URL are sent as Basic auth; they, the query and the fragment are never shown); `{ tcp:
 * "host:port" }` a connection accepted (`[::1]:5432` for IPv6, or `{ host, port }`); `{ exec: argv }`
 * a command, run without a shell, that exits 0; `{ log: regex }` an output line of the component
 * matching the regular expression.
 */
export type ReadinessProbe = ProbeTiming &
  (
    | { readonly http: string; readonly status?: number }
    | { readonly tcp: string | HostPort }
    | { readonly exec: readonly string[] }
    | { readonly log: string | RegExp }
  );

/** A probe that cannot work as written; raised by {@link validateProbe} before anything starts. */
export class InvalidProbeError extends CorralError<'INVALID_PROBE'> {
  /** The probe field at fault: `http`, `status`, `tcp`, `exec`, `log`, `interval`, `timeout`, `attemptTimeout`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super('INVALID_PROBE', `readiness probe: ${field}: ${message}`);
    this.field = field;
  }
}

/**
 * A validated probe: its description (URLs redacted), and how to run one attempt of it or, for
 * `log`, which watches instead of polling, the pattern.
 */
export type Prepared = { readonly description: string } & (
  { readonly check: Check } | { readonly pattern: RegExp }
);

/**
 * Checks that `probe` can work, without running it: exactly one kind, a parseable http(s) URL,
 * a status in 100–599, a `host:port` with a port in 1–65535, a non-empty command, a valid regular
 * expression, and non-negative finite durations. Throws {@link InvalidProbeError}.
 */
export function validateProbe(probe: ReadinessProbe): void {
  prepare(probe, {});
}

export function prepare(probe: ReadinessProbe, options: ExecContext): Prepared {
  for (const field of ['interval', 'timeout', 'attemptTimeout'] as const) {
    const value = probe[field];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new InvalidProbeError(field, `expected a duration in milliseconds, got ${String(value)}`);
    }
  }
  const kinds = (['http', 'tcp', 'exec', 'log'] as const).filter((kind) => kind in probe);
  if (kinds.length !== 1) {
    throw new InvalidProbeError(
      'probe',
      `expected exactly one of http, tcp, exec, log; got ${kinds.join(', ') || 'none'}`,
    );
  }
  if ('http' in probe) return prepareHttp(probe.http, probe.status);
  if ('tcp' in probe) {
    const address = tcpAddress(probe.tcp);
    return {
      description: `TCP connect ${formatHostPort(address)}`,
      check: tcpCheck(address.host, address.port),
    };
  }
  if ('exec' in probe) {
    const argv = probe.exec;
    if (!Array.isArray(argv) || argv.some((arg) => typeof arg !== 'string') || !argv[0]) {
      const expected = 'expected a non-empty array of strings (the command and its arguments)';
      throw new InvalidProbeError('exec', expected);
    }
    const check = execCheck(argv, options);
    return { description: redactUrls(`\`${argv.join(' ')}\``), check };
  }
  const pattern = compile(probe.log);
  return { description: `output matching ${String(pattern)}`, pattern };
}

function prepareHttp(text: string, status: number | undefined): Prepared {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Never echo the text: it may hold credentials that the URL parser could not separate.
    throw new InvalidProbeError('http', 'expected an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidProbeError('http', `expected an http:// or https:// URL, got ${url.protocol}`);
  }
  if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
    throw new InvalidProbeError('status', `expected an HTTP status code (100–599), got ${String(status)}`);
  }
  // Messages from the network stack should not contain credentials; hide them anyway, in case.
  const redactor = new Redactor({ values: [url.username, url.password], minSearchLength: 3 });
  return {
    description: `GET ${redactUrl(url.href)}`,
    check: httpCheck(url, status, (message) => redactor.text(message)),
  };
}

/** `host:port`, `[v6]:port` (see util/address.ts) or `{ host, port }` with a port in 1–65535. */
function tcpAddress(address: string | HostPort): HostPort {
  if (typeof address === 'object') {
    const { host, port } = address;
    if (typeof host === 'string' && host !== '' && Number.isInteger(port) && port >= 1 && port <= 65535) {
      return { host, port };
    }
    throw new InvalidProbeError(
      'tcp',
      `expected { host, port } with a port in 1–65535, got ${JSON.stringify(address)}`,
    );
  }
  const parsed = typeof address === 'string' ? parseHostPort(address) : { problem: 'not a string' };
  if ('problem' in parsed) {
    throw new InvalidProbeError(
      'tcp',
      `expected "host:port" (or "[v6-address]:port"), got ${JSON.stringify(address)}: ${parsed.problem}`,
    );
  }
  return parsed;
}

function compile(source: string | RegExp): RegExp {
  if (source instanceof RegExp) return new RegExp(source.source, source.flags.replace(/[gy]/g, ''));
  try {
    return new RegExp(source);
  } catch (error) {
    throw new InvalidProbeError('log', `not a valid regular expression: ${(error as Error).message}`);
  }
}
