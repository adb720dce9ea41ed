import { readFile } from 'node:fs/promises';
import type { DrainResult } from '../../drain/drain.js';
import type { Warning } from '../../util/warning.js';
import { reportResult, warnAs } from '../../drain/hook.js';
import {
  processComponent,
  type ProcessComponent,
  type ProcessOptions,
  type ReadyCheck,
} from '../../process/component.js';
import { EnvoyAdmin, type AdminAddress } from './admin.js';
import { envoyArguments } from './args.js';
import { checkAdminAddress, copyBootstrap } from './bootstrap.js';
import { EnvoyDrainer } from './drain.js';
import { waitUntilLive } from './ready.js';
import { checkEnvoyVersion } from './version.js';

/**
 * `kind: envoy`: Envoy run the way kuma-dp runs it, with a drain that ends as soon as the
 * connections are gone. {@link prepareEnvoy} does the work that must happen before anything starts
 * (the bootstrap copy) and returns what `processComponent` needs plus the SIGUSR2 entry point.
 */

/** An envoy component's settings (durations in milliseconds), as the stack-file loader produces them. */
export interface EnvoyPresetConfig {
  readonly name: string;
  /** Where the bootstrap copy goes (in a directory named after the component). */
  readonly workDir: string;
  /** @default 'envoy' */
  readonly binary?: string;
  /** The user's bootstrap file. */
  readonly bootstrap: string;
  /** Envoy's admin API, as parsed or as text (`127.0.0.1:9901`, `unix:/path`; see admin.ts). */
  readonly admin: string | AdminAddress;
  /** @default 'info' */
  readonly logLevel?: string;
  readonly componentLogLevel?: string;
  readonly concurrency?: number;
  /** @default { min: 0, timeout: 30_000 } */
  readonly drain?: { readonly min?: number; readonly timeout?: number };
  /** SIGTERM to SIGKILL. @default 5_000 (kuma-dp's kill delay) */
  readonly stopTimeout?: number;
  /** Fail the start if /ready is not LIVE by then; without it, wait as long as Envoy takes. */
  readonly readyTimeout?: number;
}

/** The options of `processComponent` that the preset decides. */
export type EnvoyProcessOptions = Required<
  Pick<ProcessOptions, 'name' | 'command' | 'stopSignal' | 'stopTimeout' | 'ready' | 'drain'>
>;

export interface EnvoyPreset {
  /** The 0600 copy Envoy is started with. */
  readonly bootstrapPath: string;
  readonly admin: EnvoyAdmin;
  /** Envoy's arguments (without the binary). */
  readonly args: readonly string[];
  /** Spread into `processComponent`, adding env, cwd, output, dependsOn and the like. */
  readonly processOptions: EnvoyProcessOptions;
  /** Problems found while preparing (the bootstrap's admin address differs); for the CLI to show. */
  readonly warnings: readonly Warning[];
  /** Every shutdown drain's result, latest last (for the stop report). */
  readonly drains: readonly DrainResult[];
}

/** Copies the bootstrap into the work dir (mode 0600) and assembles the preset. Rejects if the bootstrap cannot be read. */
export async function prepareEnvoy(
  config: EnvoyPresetConfig,
  options: { readonly platform?: NodeJS.Platform; readonly requestTimeout?: number } = {},
): Promise<EnvoyPreset> {
  const { name } = config;
  const admin = new EnvoyAdmin(config.admin, { requestTimeout: options.requestTimeout ?? 2000 });
  const drainTimeout = config.drain?.timeout ?? 30_000;
  const bootstrapPath = await copyBootstrap(config.bootstrap, config.workDir, name);
  const mismatch = checkAdminAddress(await readFile(bootstrapPath, 'utf8'), admin.address);
  const args = envoyArguments({
    configPath: bootstrapPath,
    drainTimeout,
    logLevel: config.logLevel ?? 'info',
    componentLogLevel: config.componentLogLevel,
    concurrency: config.concurrency,
    platform: options.platform,
  });
  const drainer = new EnvoyDrainer(admin, { min: config.drain?.min ?? 0, timeout: drainTimeout });
  const drains: DrainResult[] = [];

  let versionChecked = false;
  const ready: ReadyCheck = async (signal, child, ctx) => {
    if (!versionChecked) {
      // Once per preset, alongside the start rather than before it: a warning, never a delay.
      versionChecked = true;
      const binary = child.command[0] ?? config.binary ?? 'envoy';
      void checkEnvoyVersion(binary, { signal, containment: child.commands }).then(({ warning }) => {
        if (warning) warnAs(ctx)(warning);
      });
    }
    await waitUntilLive(admin, { clock: ctx.clock, signal, timeout: config.readyTimeout });
  };

  return {
    bootstrapPath,
    admin,
    args,
    warnings: mismatch ? [mismatch] : [],
    drains,
    processOptions: {
      name,
      command: [config.binary ?? 'envoy', ...args],
      // Envoy exits at once on SIGTERM without draining: the drain above is done by then.
      stopSignal: 'SIGTERM',
      stopTimeout: config.stopTimeout ?? 5_000,
      ready,
      drain: async (signal, ctx, _child, mode) => {
        const warn = warnAs(ctx);
        if (mode === 'drain-only') {
          // SIGUSR2 (Manager.drain()): kuma-dp's drain-forever, nothing to wait for.
          await drainer.drainForever(warn);
          return;
        }
        const result = await drainer.drain(signal, { clock: ctx.clock, warn });
        reportResult(result, warn);
        drains.push(result);
      },
    },
  };
}

/** The envoy component itself: {@link EnvoyPreset.processOptions} plus the caller's settings. */
export function envoyComponent(
  preset: EnvoyPreset,
  extra: Omit<ProcessOptions, keyof EnvoyProcessOptions> = {},
): ProcessComponent {
  return processComponent({ ...extra, ...preset.processOptions });
}
