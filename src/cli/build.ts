import { drainHook } from '../drain/hook.js';
import type { DrainWarning } from '../drain/drain.js';
import { prepareCoredns } from '../presets/coredns.js';
import { prepareEnvoy, type EnvoyPreset } from '../presets/envoy.js';
import {
  processComponent,
  type OutputTarget,
  type ProcessComponent,
  type ReadyCheck,
} from '../process/component.js';
import type { Isolation } from '../process/isolation.js';
import { OutputSink, prefixColor } from '../process/output.js';
import { waitUntilReady, type ReadinessProbe } from '../process/probe.js';
import type { Component, ComponentContext, DrainMode } from '../runtime/component.js';
import { withRestarts } from '../runtime/restart.js';
import type { Renderer } from './render.js';
import type {
  ComponentSpec,
  OutputSpec,
  ProcessSpec,
  ReadyProbe,
  RestartPolicy,
  Stack,
} from './stack-schema.js';

/**
 * Turns a validated stack into runtime components: process components for every kind, the
 * Envoy and CoreDNS presets' arguments, probes and drains, and the restart wrapper. Does the work
 * that must happen before anything starts (bootstrap copy, Corefile) and opens output files.
 */
export interface BuiltStack {
  readonly components: Component[];
  /** Every process component, for the pre-flight check of their binaries. */
  readonly processes: ProcessComponent[];
  /** Closes the output files it opened, after everything was written. */
  close(): Promise<void>;
}

export interface BuildOptions {
  readonly stack: Stack;
  /** Relative working directories are resolved against the stack file's directory. */
  readonly baseDir: string;
  readonly workDir: string;
  readonly isolation: Isolation;
  readonly renderer: Renderer;
  /** Problems found while preparing (e.g. Envoy's bootstrap names another admin address). */
  readonly warn: (component: string, warning: DrainWarning) => void;
}

export async function buildStack(options: BuildOptions): Promise<BuiltStack> {
  const { stack } = options;
  const files = new Map<string, OutputSink>();
  const prefixWidth = Math.max(...stack.components.map((c) => c.name.length));
  const outputFor = async (spec: OutputSpec, index: number): Promise<OutputTarget> => {
    if (spec.mode === 'file') {
      let sink = files.get(spec.file);
      if (!sink) files.set(spec.file, (sink = await OutputSink.openFile(spec.file)));
      return { stdout: sink, format: 'raw' };
    }
    const { renderer } = options;
    const format = spec.mode === 'raw' ? 'raw' : renderer.format === 'json' ? 'json' : 'prefixed';
    return {
      stdout: renderer.stdout,
      stderr: renderer.stderr,
      format,
      prefixWidth,
      ...(renderer.format === 'pretty' && renderer.stdout.isTTY && { color: prefixColor(index) }),
    };
  };

  const components: Component[] = [];
  const processes: ProcessComponent[] = [];
  for (const [index, spec] of stack.components.entries()) {
    const common = {
      env: spec.env,
      cwd: 'cwd' in spec && spec.cwd !== undefined ? spec.cwd : options.baseDir,
      dependsOn: spec.dependsOn,
      leader: spec.leader,
      output: await outputFor(spec.output, index),
      isolation: options.isolation,
    };
    const built = await buildOne(spec, common, options);
    processes.push(built.process);
    const restart = 'restart' in spec ? spec.restart : undefined;
    components.push(restart ? withRestarts(built.component, restartOptions(restart)) : built.component);
  }
  return {
    components,
    processes,
    async close() {
      await Promise.all([...files.values()].map((sink) => sink.close()));
    },
  };
}

type Common = Pick<
  Parameters<typeof processComponent>[0],
  'env' | 'cwd' | 'dependsOn' | 'leader' | 'output' | 'isolation'
>;

async function buildOne(
  spec: ComponentSpec,
  common: Common,
  options: BuildOptions,
): Promise<{ component: Component; process: ProcessComponent }> {
  switch (spec.kind) {
    case 'process': {
      const process = processComponent({
        ...common,
        name: spec.name,
        command: spec.command,
        ...(spec.user !== undefined && { user: spec.user }),
        ...(spec.group !== undefined && { group: spec.group }),
        stopSignal: spec.stopSignal,
        stopTimeout: spec.stopTimeout,
        oneShot: spec.oneShot,
        ...(spec.ready && { ready: probeCheck(spec.ready, spec) }),
        ...(spec.drain && { drain: drainHook(spec.drain) }),
      });
      return { component: process, process };
    }
    case 'envoy': {
      const preset = await prepareEnvoy({
        name: spec.name,
        workDir: options.workDir,
        binary: spec.binary,
        bootstrap: spec.bootstrap,
        admin:
          spec.admin.kind === 'unix'
            ? { kind: 'unix', path: spec.admin.socketPath }
            : { kind: 'tcp', host: spec.admin.host, port: spec.admin.port },
        logLevel: spec.logLevel,
        ...(spec.componentLogLevel !== undefined && { componentLogLevel: spec.componentLogLevel }),
        ...(spec.concurrency !== undefined && { concurrency: spec.concurrency }),
        drain: spec.drain,
        stopTimeout: spec.stopTimeout,
      });
      for (const warning of preset.warnings) options.warn(spec.name, warning);
      const process = processComponent({ ...common, ...preset.processOptions });
      return { component: withDrainForever(process, preset), process };
    }
    case 'coredns': {
      const preset = await prepareCoredns({
        name: spec.name,
        workDir: options.workDir,
        binary: spec.binary,
        ...(spec.corefile !== undefined
          ? { corefile: spec.corefile }
          : {
              port: spec.port,
              upstream: spec.upstream,
              log: spec.log,
              prometheusAddress: spec.prometheusAddress,
              readyAddress: spec.readyAddress,
            }),
        stopTimeout: spec.stopTimeout,
      });
      const process = processComponent({ ...common, ...preset.processOptions });
      return { component: process, process };
    }
  }
}

/**
 * Envoy drains differently on SIGUSR2: one POST /drain_listeners?…&skip_exit and nothing to wait
 * for (kuma-dp's drain-forever), after which a shutdown stops it without draining again.
 */
function withDrainForever(process: ProcessComponent, preset: EnvoyPreset): Component {
  return {
    name: process.name,
    dependsOn: process.dependsOn,
    leader: process.leader,
    stopTimeout: process.stopTimeout,
    run: (signal, ctx) => process.run(signal, ctx),
    drain: async (signal: AbortSignal, ctx: ComponentContext, mode: DrainMode) => {
      if (mode === 'drain-only') {
        await preset.drainForever((warning) => {
          ctx.emit({ type: 'warning', code: warning.code, message: warning.message, component: ctx.name });
        });
        return;
      }
      await process.drain?.(signal, ctx, mode);
    },
  };
}

/** The stack file's probe as the probe module takes it, run with the component's cwd and env. */
function probeCheck(probe: ReadyProbe, spec: ProcessSpec): ReadyCheck {
  const timing = { interval: probe.interval, timeout: probe.timeout };
  const readiness: ReadinessProbe =
    probe.kind === 'http'
      ? { ...timing, http: probe.url, ...(probe.status !== undefined && { status: probe.status }) }
      : probe.kind === 'tcp'
        ? { ...timing, tcp: formatAddress(probe.address) }
        : probe.kind === 'exec'
          ? { ...timing, exec: probe.command }
          : { ...timing, log: probe.pattern };
  return (signal, child, ctx) =>
    waitUntilReady(readiness, {
      component: spec.name,
      signal,
      clock: ctx.clock,
      lines: child.lines,
      ...(spec.cwd !== undefined && { cwd: spec.cwd }),
      env: { ...process.env, ...spec.env },
    });
}

function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function restartOptions(policy: RestartPolicy): Parameters<typeof withRestarts>[1] {
  return {
    maxRestarts: policy.maxRestarts,
    window: policy.window,
    backoff: { base: policy.backoff.base, max: policy.backoff.max },
  };
}
