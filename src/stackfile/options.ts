import type { z } from 'zod';
import type { DrainSpec } from '../drain/spec.js';
import type { PostgresElectorOptions } from '../postgres/options.js';
import type { CorednsPresetConfig } from '../presets/coredns/preset.js';
import type { EnvoyPresetConfig } from '../presets/envoy/preset.js';
import type { ProcessOptions } from '../process/component.js';
import type { ReadinessProbe } from '../process/probe/spec.js';
import type { RestartOptions } from '../core/restart.js';

/**
 * What the stack file's schema outputs for each kind of section: the options of the library
 * factory the section goes to, unchanged, plus the little that only the CLI handles (where output
 * goes, the restart wrapper). Each schema is checked against its type here with `satisfies`, on its
 * keys ({@link ShapeOf}) and on its output, so a key the schema validates but no factory takes does
 * not compile. Building a stack (build.ts) then hands each section to its factory whole.
 */

/** Where a component's stdout and stderr go; build.ts turns it into the process component's output. */
export type OutputSpec = { readonly mode: 'log' | 'raw' } | { readonly mode: 'file'; readonly file: string };

/** What a preset leaves to its caller: `processComponent` options every kind of component has. */
export type ProcessSettings = Pick<ProcessOptions, 'env' | 'cwd' | 'user' | 'group' | 'dependsOn' | 'leader'>;

/** `kind: process`: `processComponent`'s options; the drain is declared, and build makes its hook. */
export type ProcessSpec = Omit<
  ProcessOptions,
  'name' | 'ready' | 'drain' | 'output' | 'isolation' | 'corralPath'
> & {
  readonly kind: 'process';
  readonly ready?: ReadinessProbe;
  readonly drain?: DrainSpec;
  readonly output: OutputSpec;
  readonly restart?: RestartOptions;
};

/** `kind: envoy`: `prepareEnvoy`'s configuration, and the process settings the preset leaves open. */
export type EnvoySpec = Omit<EnvoyPresetConfig, 'name' | 'workDir'> &
  ProcessSettings & { readonly kind: 'envoy'; readonly output: OutputSpec };

/** `kind: coredns`: `prepareCoredns`'s configuration, and the process settings the preset leaves open. */
export type CorednsSpec = Omit<CorednsPresetConfig, 'name' | 'workDir'> &
  ProcessSettings & {
    readonly kind: 'coredns';
    readonly output: OutputSpec;
    readonly restart?: RestartOptions;
  };

/** `leaderElection.postgres`: `PostgresElector`'s options, less those only code can give. */
export type PostgresSpec = Omit<
  PostgresElectorOptions,
  'identity' | 'clock' | 'onEvent' | 'client' | 'maxRetry'
>;

/**
 * A zod object shape whose every key is a key of `Spec`. Written `z.strictObject({ … } satisfies
 * ShapeOf<Spec>)`, a key that would reach no option is a compile error. (Keys that come from a
 * spread are not checked where they are spread: check them where they are written.)
 */
export type ShapeOf<Spec> = { readonly [K in keyof Spec]?: z.ZodType };
