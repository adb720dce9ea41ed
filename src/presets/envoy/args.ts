/** What decides Envoy's command line. */
export interface EnvoyArgumentOptions {
  /** The work-dir copy of the bootstrap. */
  readonly configPath: string;
  /** The drain timeout in milliseconds; becomes `--drain-time-s`. */
  readonly drainTimeout: number;
  readonly logLevel: string;
  readonly componentLogLevel?: string;
  /** Worker threads; when unset, `--cpuset-threads` on Linux. */
  readonly concurrency?: number;
  /** @default process.platform */
  readonly platform?: NodeJS.Platform;
}

/**
 * Envoy's arguments exactly as kuma-dp passes them, in kuma-dp's order:
 * `--config-path P --drain-time-s N --drain-strategy immediate --disable-hot-restart
 * --log-level L [--component-log-level C] [--concurrency N | --cpuset-threads (Linux)]`.
 */
export function envoyArguments(options: EnvoyArgumentOptions): string[] {
  const args = [
    '--config-path',
    options.configPath,
    // Rounded up, so that Envoy keeps accepting during the whole of Corral's drain rather than
    // stopping its listeners before Corral is done waiting.
    '--drain-time-s',
    String(Math.max(1, Math.ceil(options.drainTimeout / 1000))),
    // Every connection is asked to close as soon as the drain starts, rather than spread over the
    // drain time: Corral ends the drain as soon as the count reaches zero, so sooner is better.
    '--drain-strategy',
    'immediate',
    // Hot restart needs a distinct --base-id per Envoy on a host, and Corral never hot-restarts.
    '--disable-hot-restart',
    '--log-level',
    options.logLevel,
  ];
  if (options.componentLogLevel !== undefined && options.componentLogLevel !== '') {
    args.push('--component-log-level', options.componentLogLevel);
  }
  if (options.concurrency !== undefined && options.concurrency > 0) {
    args.push('--concurrency', String(options.concurrency));
  } else if ((options.platform ?? process.platform) === 'linux') {
    // Size the worker pool to the CPU set the process may use (containers), not the host's cores.
    // Other platforms accept the flag but warn about it, so kuma-dp passes it on Linux only.
    args.push('--cpuset-threads');
  }
  return args;
}
