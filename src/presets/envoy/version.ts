import { describe, formatMs } from '../../core/errors.js';
import { type CommandContainment, describeEnding, runHelperCommand } from '../../process/helper-command.js';

/** What `envoy --version` says: the whole build string and the version in it. */
export interface EnvoyVersion {
  /** `revision/version/revision-status/build-type/ssl`, e.g. `50ef…/1.20.0-dev/clean-getenvoy-2aa564b-envoy/RELEASE/BoringSSL`. */
  readonly build: string;
  /** The second part of the build string, e.g. `1.31.2` or `1.20.0-dev`. */
  readonly version: string;
}

/**
 * The oldest Envoy the preset is meant for: `drain_listeners` with `skip_exit` (the SIGUSR2
 * drain-forever) is in the 1.28 release notes as read when this was written; older versions may
 * ignore it and close their listeners after the drain time.
 */
export const OLDEST_SUPPORTED_ENVOY = '1.28.0';

/**
 * Parses `envoy --version` output the way kuma-dp does: Windows line ends become `\n`, the text
 * after the first `version:` on its line is the build, which must have five `/`-separated parts;
 * the second is the version. Returns `undefined` when the output is not in that shape.
 */
export function parseEnvoyVersion(output: string): EnvoyVersion | undefined {
  const text = output.replaceAll('\r\n', '\n');
  const match = /version:(.*)/.exec(text);
  if (!match) return undefined;
  const build = (match[1] ?? '').trim();
  const parts = build.split('/');
  const version = parts[1];
  if (parts.length !== 5 || version === undefined || version === '') return undefined;
  return { build, version };
}

/** Compares the numeric `major.minor.patch` of two versions; labels such as `-dev` are ignored. */
export function compareVersions(a: string, b: string): number | undefined {
  const parse = (v: string): number[] | undefined => {
    const match = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
    return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
  };
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The outcome of a version check: the version if it could be read, and a warning when something is off. */
export interface VersionCheck {
  readonly version: EnvoyVersion | undefined;
  /** Set when the version is unparsable, unsupported, or `--version` could not be run. */
  readonly warning: { readonly code: string; readonly message: string } | undefined;
}

/** Judges a `--version` output: a warning when it cannot be parsed or is older than supported. */
export function judgeEnvoyVersion(output: string): VersionCheck {
  const version = parseEnvoyVersion(output);
  const warn = (code: string, message: string): VersionCheck => ({ version, warning: { code, message } });
  if (!version) {
    const shown = output.trim().split('\n')[0]?.slice(0, 200) ?? '';
    return warn(
      'ENVOY_VERSION_UNPARSABLE',
      `could not read Envoy's version from \`envoy --version\` (expected "version: <5 parts separated by />", got "${shown}")`,
    );
  }
  const order = compareVersions(version.version, OLDEST_SUPPORTED_ENVOY);
  if (order === undefined) {
    return warn(
      'ENVOY_VERSION_UNSUPPORTED',
      `Envoy version "${version.version}" is not a major.minor.patch version; Corral supports ${OLDEST_SUPPORTED_ENVOY} and newer`,
    );
  }
  if (order < 0) {
    return warn(
      'ENVOY_VERSION_UNSUPPORTED',
      `Envoy ${version.version} is older than ${OLDEST_SUPPORTED_ENVOY}, the oldest version Corral supports; draining may not work as documented`,
    );
  }
  return { version, warning: undefined };
}

/**
 * Runs `<binary> --version` as a helper command (see helper-command.ts), bounded by `timeout` and
 * `signal`, and judges its output. Never rejects: a binary that cannot be run is a warning here,
 * since the start itself will report it properly; a check that `signal` ended has neither version
 * nor warning, since whoever asked no longer needs the answer.
 */
export async function checkEnvoyVersion(
  binary: string,
  options: {
    readonly timeout?: number;
    readonly signal?: AbortSignal;
    readonly containment?: CommandContainment;
  } = {},
): Promise<VersionCheck> {
  const timeoutMs = options.timeout ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const unavailable = (why: string): VersionCheck => ({
    version: undefined,
    warning: { code: 'ENVOY_VERSION_UNAVAILABLE', message: `could not run \`${binary} --version\`: ${why}` },
  });
  let result;
  try {
    result = await runHelperCommand([binary, '--version'], {
      signal,
      stdoutLimit: MAX_OUTPUT,
      containment: options.containment,
    });
  } catch (error) {
    if (options.signal?.aborted) return { version: undefined, warning: undefined };
    return unavailable(timeout.aborted ? `no answer within ${formatMs(timeoutMs)}` : describe(error));
  }
  if (result.overflowed) return unavailable(`it printed more than ${MAX_OUTPUT} characters`);
  if (result.exitCode !== 0) return unavailable(`it ${describeEnding(result)}`);
  return judgeEnvoyVersion(result.stdout);
}

/** More than any version banner: the rest is not read. */
const MAX_OUTPUT = 65_536;
