import type { Warning } from '../util/warning.js';
import type { ProcessDrainHook } from '../drain/hook.js';
import type { DrainSpec } from '../drain/spec.js';
import { AlwaysLeader, type LeaderElector } from '../core/leadership.js';
import type { PostgresElectorOptions } from '../postgres/options.js';
import type { CorednsPreset, CorednsPresetConfig } from '../presets/coredns/preset.js';
import type { EnvoyPreset, EnvoyPresetConfig } from '../presets/envoy/preset.js';
import {
  processComponent,
  type OutputTarget,
  type ProcessComponent,
  type ProcessOptions,
} from '../process/component.js';
import type { Isolation } from '../containment/isolation.js';
import { type OutputEvent, OutputSink, prefixColor } from '../output/forward.js';
import type { Component } from '../core/component.js';
import type { CorralEvent } from '../events.js';
import { withRestarts, type RestartOptions } from '../core/restart.js';
import type { OutputSpec, ProcessSettings } from './options.js';
import type { ComponentSpec, Stack } from './schema.js';

/**
 * Turns a validated stack into runtime components, a map from kind to the library's factory: each
 * section goes to its factory as the schema output it (see stack-options.ts), with only what the
 * stack file cannot say added (name, work dir, output streams, isolation). Does the work that must
 * happen before anything starts (bootstrap copy, Corefile) and opens output files.
 */
export interface BuiltStack {
  readonly components: Component[];
  /** Every process component, for the pre-flight check of their binaries. */
  readonly processes: ProcessComponent[];
  /** The output files it opened. */
  readonly files: readonly OutputSink[];
  /** Closes the output files it opened, after everything was written. */
  close(): Promise<void>;
}

/** The library's factories, one per kind of section. Replaceable, so a test can see what reaches them. */
export interface Factories {
  readonly process: (options: ProcessOptions) => ProcessComponent;
  /** A process component's `drain` section. */
  readonly drain: (spec: DrainSpec) => Promise<ProcessDrainHook>;
  /** A component's `restart` section. */
  readonly restart: (component: Component, options: RestartOptions) => Component;
  readonly envoy: (config: EnvoyPresetConfig) => Promise<EnvoyPreset>;
  readonly coredns: (config: CorednsPresetConfig) => Promise<CorednsPreset>;
  readonly postgres: (options: PostgresElectorOptions) => Promise<LeaderElector>;
}

/**
 * The library's own. The presets, the drain machinery and the elector are imported only for stacks
 * that use them: a run keeps in memory whatever it imported, for as long as it runs.
 */
export const libraryFactories: Factories = {
  process: processComponent,
  drain: async (spec) => (await import('../drain/hook.js')).drainHook(spec),
  restart: withRestarts,
  envoy: async (config) => (await import('../presets/envoy/preset.js')).prepareEnvoy(config),
  coredns: async (config) => (await import('../presets/coredns/preset.js')).prepareCoredns(config),
  postgres: async (options) => new (await import('../postgres/elector.js')).PostgresElector(options),
};

/** The shared destination of the components' output, such as `corral run`'s renderer. */
export interface StackOutput {
  /** `json`: one record per line; `pretty`: lines prefixed with the component's name. */
  readonly format: 'pretty' | 'json';
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
  /** Whether prefixes are coloured. */
  readonly colors: boolean;
}

export interface BuildOptions {
  readonly stack: Stack;
  /** Relative working directories are resolved against the stack file's directory. */
  readonly baseDir: string;
  readonly workDir: string;
  readonly isolation: Isolation;
  /** Where the components' output goes, unless their `output` section names a file. */
  readonly output: StackOutput;
  /** Problems found while preparing (e.g. Envoy's bootstrap names another admin address). */
  readonly warn: (component: string, warning: Warning) => void;
  /** Reports of lines an output file did not take (a full disk). */
  readonly onOutputEvent: (event: OutputEvent) => void;
  /** @default libraryFactories */
  readonly factories?: Factories;
  /** Gets each component's output too, as written (see ProcessOptions.copyOutput). */
  readonly copyOutput?: (component: string) => (formatted: Buffer) => void;
}

export async function buildStack(options: BuildOptions): Promise<BuiltStack> {
  const { stack } = options;
  const files = new Map<string, OutputSink>();
  const prefixWidth = Math.max(...stack.components.map((c) => c.name.length));
  const outputFor = (spec: OutputSpec, index: number): OutputTarget => {
    if (spec.mode === 'file') {
      let sink = files.get(spec.file);
      if (!sink)
        files.set(spec.file, (sink = OutputSink.openFile(spec.file, { onEvent: options.onOutputEvent })));
      return { stdout: sink, format: 'raw' };
    }
    const { output } = options;
    const format = spec.mode === 'raw' ? 'raw' : output.format === 'json' ? 'json' : 'prefixed';
    return {
      stdout: output.stdout,
      stderr: output.stderr,
      format,
      prefixWidth,
      ...(output.colors && { color: prefixColor(index) }),
    };
  };

  const factories = options.factories ?? libraryFactories;
  const components: Component[] = [];
  const processes: ProcessComponent[] = [];
  for (const [index, spec] of stack.components.entries()) {
    const built = await buildOne(spec, outputFor(spec.output, index), factories, options);
    processes.push(built);
    const restart = 'restart' in spec ? spec.restart : undefined;
    components.push(restart ? factories.restart(built, restart) : built);
  }
  return {
    components,
    processes,
    files: [...files.values()],
    async close() {
      await Promise.all([...files.values()].map((sink) => sink.close()));
    },
  };
}

/**
 * The leader elector for `leaderElection`: `leaderElection.postgres` handed to the PostgreSQL
 * elector as it is, or, without the section, one that is always leader.
 */
export async function buildElector(
  stack: Stack,
  emit: (event: CorralEvent) => void,
  factories: Factories = libraryFactories,
): Promise<LeaderElector> {
  const postgres = stack.leaderElection?.postgres;
  if (!postgres) return new AlwaysLeader();
  return factories.postgres({
    ...postgres,
    // The manager announces terms itself (leader.elected / leader.lost); take only the elector's warnings.
    onEvent: (event) => {
      if (event.type === 'warning') emit(event);
    },
  });
}

async function buildOne(
  spec: ComponentSpec,
  output: OutputTarget,
  factories: Factories,
  options: BuildOptions,
): Promise<ProcessComponent> {
  const { isolation, baseDir, workDir } = options;
  const copy = options.copyOutput && { copyOutput: options.copyOutput(spec.name) };
  switch (spec.kind) {
    case 'process': {
      const { kind: _kind, restart: _restart, output: _output, drain, cwd, ...processOptions } = spec;
      return factories.process({
        ...processOptions,
        cwd: cwd ?? baseDir,
        output,
        isolation,
        ...copy,
        ...(drain && { drain: await factories.drain(drain) }),
      });
    }
    case 'envoy': {
      const { config, settings } = presetParts(spec, baseDir);
      const preset = await factories.envoy({ ...config, workDir });
      for (const warning of preset.warnings) options.warn(spec.name, warning);
      return factories.process({ ...settings, output, isolation, ...copy, ...preset.processOptions });
    }
    case 'coredns': {
      const { restart: _restart, ...section } = spec;
      const { config, settings } = presetParts(section, baseDir);
      const preset = await factories.coredns({ ...config, workDir });
      return factories.process({ ...settings, output, isolation, ...copy, ...preset.processOptions });
    }
  }
}

/**
 * A preset kind's section, split: the preset's own configuration, and the `processComponent`
 * settings the preset leaves to its caller (without a `cwd`, the process runs in `baseDir`).
 */
function presetParts<S extends ProcessSettings & { readonly kind: string; readonly output: OutputSpec }>(
  spec: S,
  baseDir: string,
) {
  const { kind: _kind, output: _output, env, cwd, user, group, dependsOn, leader, ...config } = spec;
  const settings: ProcessSettings = { env, cwd: cwd ?? baseDir, user, group, dependsOn, leader };
  return { config, settings };
}
