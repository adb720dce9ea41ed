import type { DrainWarning } from '../drain/drain.js';
import { processComponent, type OutputTarget, type ProcessComponent } from '../process/component.js';
import type { Isolation } from '../process/isolation.js';
import { OutputSink, prefixColor } from '../process/output.js';
import type { ReadinessProbe } from '../process/probe.js';
import type { Component } from '../runtime/component.js';
import { withRestarts } from '../runtime/restart.js';
import { formatHostPort } from './address.js';
import type { Renderer } from './render.js';
import type { ComponentSpec, OutputSpec, ReadyProbe, RestartPolicy, Stack } from './stack-schema.js';

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
  const outputFor = (spec: OutputSpec, index: number): OutputTarget => {
    if (spec.mode === 'file') {
      let sink = files.get(spec.file);
      if (!sink) files.set(spec.file, (sink = OutputSink.openFile(spec.file)));
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
      output: outputFor(spec.output, index),
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
        ...(spec.ready && { ready: readinessProbe(spec.ready) }),
        // The drain machinery and the presets are imported only for stacks that use them: a run
        // keeps in memory whatever it imported, for as long as it runs (issue 3).
        ...(spec.drain && { drain: (await import('../drain/hook.js')).drainHook(spec.drain) }),
      });
      return { component: process, process };
    }
    case 'envoy': {
      const { prepareEnvoy } = await import('../presets/envoy.js');
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
      return { component: process, process };
    }
    case 'coredns': {
      const { prepareCoredns } = await import('../presets/coredns.js');
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

/** The stack file's probe in the form the probe module takes (the process component runs it). */
function readinessProbe(probe: ReadyProbe): ReadinessProbe {
  const timing = { interval: probe.interval, timeout: probe.timeout };
  switch (probe.kind) {
    case 'http':
      return { ...timing, http: probe.url, ...(probe.status !== undefined && { status: probe.status }) };
    case 'tcp':
      return { ...timing, tcp: formatHostPort(probe.address) };
    case 'exec':
      return { ...timing, exec: probe.command };
    case 'log':
      return { ...timing, log: probe.pattern };
  }
}

function restartOptions(policy: RestartPolicy): Parameters<typeof withRestarts>[1] {
  return {
    maxRestarts: policy.maxRestarts,
    window: policy.window,
    backoff: { base: policy.backoff.base, max: policy.backoff.max },
  };
}
