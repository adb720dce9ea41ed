import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processComponent, type ProcessComponent, type ProcessOptions } from '../../process/component.js';
import type { ReadinessProbe } from '../../process/probe/probe.js';
import { formatHostPort, parseHostPort, type HostPort } from '../../util/address.js';
import { writePrivateFile } from '../../util/private-file.js';

/**
 * `kind: coredns`: CoreDNS run as kuma-dp ran it, `coredns -conf <Corefile> -quiet`, with the
 * Corefile generated into the work dir (or a given one used as is), ready when the `ready` plugin
 * answers 200.
 */

/** A TCP address as text, put into the Corefile as it is (`127.0.0.1:15054`), or parsed. */
export type HostPortInput = string | HostPort;

export interface CorednsPresetConfig {
  readonly name: string;
  /** Where the generated Corefile goes (in a directory named after the component). */
  readonly workDir: string;
  /** @default 'coredns' */
  readonly binary?: string;
  /** @default 15053 */
  readonly port?: number;
  /** Where queries go first (kuma-dp: Envoy's DNS listener). @default '127.0.0.1:15054' */
  readonly upstream?: HostPortInput;
  /** The `log` plugin (every query logged). @default false */
  readonly log?: boolean;
  /** @default '127.0.0.1:19153' */
  readonly prometheusAddress?: HostPortInput;
  /** The `ready` plugin, polled for readiness. @default '127.0.0.1:8181' */
  readonly readyAddress?: HostPortInput;
  /** A Corefile used as given instead of the generated one; readiness then uses its own `ready` line, if any. */
  readonly corefile?: string;
  /** @default 5_000 */
  readonly stopTimeout?: number;
  /** Fail the start if not ready by then; without it, wait as long as it takes. */
  readonly readyTimeout?: number;
}

/** What the generated Corefile says. */
export type CorefileOptions = Required<
  Pick<CorednsPresetConfig, 'port' | 'upstream' | 'log' | 'prometheusAddress' | 'readyAddress'>
>;

/**
 * The Corefile kuma-dp generated, plus the `ready` plugin: listen on `port`; forward everything to
 * `upstream`; answers that are NXDOMAIN, SERVFAIL or REFUSED are asked again of the resolvers in
 * /etc/resolv.conf (the `alternate` plugin, which stock CoreDNS builds lack: kuma-dp shipped its
 * own); metrics; errors; and `log` only when enabled.
 */
export function generateCorefile(options: CorefileOptions): string {
  const lines = [
    `.:${options.port} {`,
    `    forward . ${addressText(options.upstream)}`,
    `    alternate NXDOMAIN,SERVFAIL,REFUSED . /etc/resolv.conf`,
    `    prometheus ${addressText(options.prometheusAddress)}`,
    `    ready ${addressText(options.readyAddress)}`,
    `    errors`,
    ...(options.log ? ['    log'] : []),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

export interface CorednsPreset {
  /** The Corefile CoreDNS runs with: the generated copy, or the given file. */
  readonly corefilePath: string;
  /** Where readiness is read, or `undefined` when a given Corefile has no `ready` plugin (ready at start). */
  readonly readyUrl: string | undefined;
  /** Spread into `processComponent`, adding env, cwd, output, dependsOn and the like. */
  readonly processOptions: Required<Pick<ProcessOptions, 'name' | 'command' | 'stopSignal' | 'stopTimeout'>> &
    Pick<ProcessOptions, 'ready'>;
}

/** Writes the Corefile (mode 0600) unless one is given, and assembles the preset. */
export async function prepareCoredns(config: CorednsPresetConfig): Promise<CorednsPreset> {
  let corefilePath: string;
  let readyAddress: string | undefined;
  if (config.corefile !== undefined) {
    corefilePath = config.corefile;
    readyAddress = readyAddressIn(await readFile(corefilePath, 'utf8'));
  } else {
    const ready = config.readyAddress ?? '127.0.0.1:8181';
    corefilePath = join(config.workDir, config.name, 'Corefile');
    await writePrivateFile(
      corefilePath,
      generateCorefile({
        port: config.port ?? 15053,
        upstream: config.upstream ?? '127.0.0.1:15054',
        log: config.log ?? false,
        prometheusAddress: config.prometheusAddress ?? '127.0.0.1:19153',
        readyAddress: ready,
      }),
    );
    readyAddress = addressText(ready);
  }
  const readyUrl = readyAddress === undefined ? undefined : `http://${readyAddress}/ready`;
  // The `ready` plugin answers 200 once every plugin is ready: an ordinary http probe.
  const ready: ReadinessProbe | undefined =
    readyUrl === undefined
      ? undefined
      : {
          http: readyUrl,
          status: 200,
          interval: 200,
          ...(config.readyTimeout === undefined ? {} : { timeout: config.readyTimeout }),
        };
  return {
    corefilePath,
    readyUrl,
    processOptions: {
      name: config.name,
      command: [config.binary ?? 'coredns', '-conf', corefilePath, '-quiet'],
      stopSignal: 'SIGTERM',
      stopTimeout: config.stopTimeout ?? 5_000,
      ready,
    },
  };
}

/** The coredns component itself: {@link CorednsPreset.processOptions} plus the caller's settings. */
export function corednsComponent(
  preset: CorednsPreset,
  extra: Omit<ProcessOptions, 'name' | 'command' | 'stopSignal' | 'stopTimeout' | 'ready'> = {},
): ProcessComponent {
  return processComponent({ ...extra, ...preset.processOptions });
}

/**
 * The address of the first `ready` plugin in a Corefile, for polling: `ready` alone means
 * CoreDNS's default `:8181`; a wildcard host is polled on loopback. `undefined` without one.
 */
export function readyAddressIn(corefile: string): string | undefined {
  for (const raw of corefile.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^ready(?:\s+(\S+))?\s*(?:\{.*)?$/.exec(line);
    if (!match) continue;
    const address = parseHostPort(match[1] ?? ':8181', { defaultHost: '127.0.0.1' });
    // CoreDNS itself refuses to start on an address it cannot read: nothing to poll then.
    if ('problem' in address) return undefined;
    const wildcard = address.host === '0.0.0.0' || address.host === '::';
    return formatHostPort(wildcard ? { host: '127.0.0.1', port: address.port } : address);
  }
  return undefined;
}

function addressText(address: HostPortInput): string {
  return typeof address === 'string' ? address : formatHostPort(address);
}
