import type { Component, ComponentContext, DrainMode } from '../core/component.js';
import type { CommandContainment } from './helper-command.js';
import { processLayersOnly, type Isolation } from '../containment/isolation.js';
import { lookupBinary, type BinarySpec, type LookupOptions } from './lookup.js';
import { connectOutput, flush, forward, type OutputTarget } from './output.js';
import { LineTap } from '../output/forward.js';
import { validateProbe, waitUntilReady, InvalidProbeError, type ReadinessProbe } from './probe/probe.js';
import { FINISHED } from '../util/abort.js';
import { childEnv, spawnChild, type SpawnOptions } from './spawn.js';
import { exitStatusOf, ProcessExitError, terminate, type Termination } from './terminate.js';

/**
 * `processComponent()`: an external program as a component. The narrative of one run: find the
 * binary, contain the run (its isolation's cgroup and watchdog, if it has one), spawn the child in
 * its own session with a parent-death signal, forward its output, mark it ready (at once or when
 * its probe passes), wait until it ends or is asked to stop, stop its whole process group (and
 * cgroup), wait until nothing of it is left and its output is flushed, and only then settle.
 */

export type { OutputTarget } from './output.js';

/** What a drain hook learns about the running child. */
export interface RunningProcess {
  readonly component: string;
  /** The direct child's pid, also its process group id. */
  readonly pid: number;
  /** The command as configured (binary resolved), without isolation prefixes. */
  readonly command: readonly string[];
  /** Aborts when the direct child has exited: a drain of a process that is gone has nothing left to wait for. */
  readonly exited: AbortSignal;
  /** Lines of the child's output as they are forwarded (for drains that watch the logs). */
  readonly lines: LineTap;
  /** The layers the component's helper commands run in (see helper-command.ts). */
  readonly commands: CommandContainment;
}

/**
 * Readiness as code: resolves once the child is ready; rejects (naming itself) if it never will
 * be. For the usual http / tcp / exec / log probes, pass a {@link ReadinessProbe} instead.
 */
export type ReadyCheck = (signal: AbortSignal, child: RunningProcess, ctx: ComponentContext) => Promise<void>;

export interface ProcessOptions
  extends
    Pick<Component, 'name' | 'dependsOn' | 'leader' | 'oneShot'>,
    Pick<SpawnOptions, 'env' | 'cwd' | 'user' | 'group'> {
  /**
   * The program and its arguments, run without a shell, so nothing in them is interpreted; the
   * program is looked up as described in lookup.ts. For a shell, say so: `['/bin/sh', '-c', script]`.
   */
  readonly command: readonly string[];
  /** Sent to the process group to stop it (nginx wants SIGQUIT, HAProxy SIGUSR1). @default 'SIGTERM' */
  readonly stopSignal?: NodeJS.Signals;
  /** Time from the stop signal to SIGKILL, in ms. @default 10_000 */
  readonly stopTimeout?: number;
  /**
   * When the component counts as ready: a probe (http, tcp, exec or log, with an interval and a
   * start-up deadline; missing the deadline fails the component) or a function. Without it, the
   * component is ready as soon as the child has started.
   */
  readonly ready?: ReadinessProbe | ReadyCheck;
  /**
   * Where the child's output goes. For prefixed lines, give sinks shared by the components that
   * write to the same place (`OutputSink.stdio(1)`…); a `log` probe needs them, as it reads the
   * forwarded lines.
   * @default 'inherit': the child writes straight to Corral's own stdout and stderr
   */
  readonly output?: OutputTarget;
  /** Passed through as `Component.drain`, with the running child; not called when none runs. */
  readonly drain?: (
    signal: AbortSignal,
    ctx: ComponentContext,
    child: RunningProcess,
    mode: DrainMode,
  ) => Promise<void>;
  /**
   * The layers that keep the child and everything it starts from outliving Corral (a watchdog, a
   * cgroup; see Isolation.create), shared by the components of one Corral and closed after them.
   * @default only what every child gets (see processLayersOnly)
   */
  readonly isolation?: Isolation;
  /**
   * Also gets everything forwarded, run after run, as written (whole lines, formatted), for a
   * buffer of recent output (`corral logs`). Called once per chunk read; not with `inherit`.
   */
  readonly copyOutput?: (formatted: Buffer) => void;
  /** Where `corral` itself lives, for the lookup. @default process.argv[1] */
  readonly corralPath?: LookupOptions['corralPath'];
}

/** A process component; `preflight` lets the CLI check every binary before starting anything. */
export interface ProcessComponent extends Component {
  /** Resolves to the binary's absolute path, or rejects with a BinaryLookupError. Starts nothing. */
  preflight(): Promise<string>;
  /** What `preflight` looks up, for `checkBinaries`, which checks several components' at once. */
  readonly binary: BinarySpec;
}

/**
 * Makes a component that runs an external program; see the module doc. `run` resolves when the
 * program ended with status 0 or was stopped cleanly (it died of the stop signal, or exited 0 or
 * 128 + that signal), and rejects with a {@link ProcessExitError} otherwise, SIGKILL after
 * `stopTimeout` included. Either way, it settles only when no process of the run is left.
 */
export function processComponent(options: ProcessOptions): ProcessComponent {
  const { name } = options;
  const ready = readyCheck(options);
  const stopSignal = options.stopSignal ?? 'SIGTERM';
  const stopTimeout = options.stopTimeout ?? 10_000;
  const binary: BinarySpec = {
    component: name,
    binary: options.command[0] ?? '',
    cwd: options.cwd,
    path: options.env?.PATH,
    corralPath: options.corralPath,
  };
  let running: RunningProcess | undefined;

  const preflight = (): Promise<string> => lookupBinary(binary.binary, binary, name);

  async function run(signal: AbortSignal, ctx: ComponentContext): Promise<void> {
    const binary = await preflight();
    if (signal.aborted) return;
    const containment = options.isolation
      ? await options.isolation.contain(name, stopSignal, (event) => ctx.emit(event))
      : processLayersOnly();
    try {
      const command = [binary, ...options.command.slice(1)];
      const output = options.output ?? 'inherit';
      const io = await connectOutput(output);
      const child = await spawnChild({
        argv: command,
        prefix: containment.prefix,
        parentDeathSignal: containment.parentDeathSignal,
        onFork: containment.onFork,
        env: options.env,
        cwd: options.cwd,
        user: options.user,
        group: options.group,
        stdout: io.stdout,
        stderr: io.stderr,
      }).finally(() => io.release());
      const { pid } = child;
      ctx.emit({ type: 'process.spawned', component: name, pid, command });

      const lines = new LineTap();
      const stopReading = new AbortController();
      const forwarding = forward(io.sources(child.child), output, {
        component: name,
        lines,
        signal: stopReading.signal,
        ...(options.copyOutput && { copy: options.copyOutput }),
      });
      const exited = new AbortController();
      void child.exited.then(() => exited.abort(new Error(`component \`${name}\` exited while draining`)));
      running = {
        component: name,
        pid,
        command,
        lines,
        exited: exited.signal,
        commands: containment.commands,
      };

      // Whatever comes first: the child ends, the stop is requested, or the probe gives up.
      const target = { pgid: pid, exited: child.exited, ...containment.stopHooks };
      const stopOptions = { stopSignal, stopTimeout, clock: ctx.clock };
      const settled = new AbortController();
      let stopping: Promise<Termination> | undefined;
      const stopRequested = onAbort(signal, settled.signal, () => {
        stopping = terminate(target, stopOptions);
      });
      const cause = await Promise.race([
        child.exited.then(() => 'exited' as const),
        stopRequested.then(() => 'stop' as const),
        probeFailure(ready, running, ctx, signal, settled.signal),
      ]);
      settled.abort(FINISHED);

      // A stop requested meanwhile is under way already, even if the child's exit won the race.
      const termination = await (stopping ?? terminate(target, stopOptions));
      running = undefined;
      await flush(forwarding, stopReading, name, ctx);
      ctx.emit({
        type: 'process.exited',
        component: name,
        pid,
        exitCode: termination.exitCode,
        signal: termination.signal,
        forced: termination.forced,
        stopDurationMs: cause === 'exited' ? undefined : termination.durationMs,
      });

      if (typeof cause === 'object') throw cause.error;
      if (cause === 'stop') {
        if (isCleanStop(termination)) return;
        throw new ProcessExitError(name, termination);
      }
      // Ended on its own: only the child's status counts, not how its leftovers were stopped.
      if (termination.exitCode !== 0) {
        throw new ProcessExitError(name, { exitCode: termination.exitCode, signal: termination.signal });
      }
    } finally {
      running = undefined;
      await containment.release();
    }
  }

  const drain = options.drain;
  return {
    name,
    stopTimeout,
    ...(options.dependsOn === undefined ? {} : { dependsOn: options.dependsOn }),
    ...(options.leader === undefined ? {} : { leader: options.leader }),
    ...(options.oneShot === undefined ? {} : { oneShot: options.oneShot }),
    run,
    preflight,
    binary,
    ...(drain === undefined
      ? {}
      : {
          drain: (signal: AbortSignal, ctx: ComponentContext, mode: DrainMode) =>
            running
              ? drain(AbortSignal.any([signal, running.exited]), ctx, running, mode)
              : Promise.resolve(),
        }),
  };
}

/**
 * The readiness check of `options.ready`, validated now so that a bad probe fails before anything
 * starts (throws InvalidProbeError).
 */
function readyCheck(options: ProcessOptions): ReadyCheck | undefined {
  const probe = options.ready;
  if (probe === undefined || typeof probe === 'function') return probe;
  validateProbe(probe);
  const output = options.output ?? 'inherit';
  if ('log' in probe && typeof output === 'string') {
    throw new InvalidProbeError(
      'log',
      `component \`${options.name}\` does not forward its output (output: ${output}), which a log probe reads`,
    );
  }
  // exec probes run with the component's working directory, environment and layers.
  const env = childEnv(options.env);
  return (signal, child, ctx) =>
    waitUntilReady(probe, {
      component: options.name,
      signal,
      clock: ctx.clock,
      lines: child.lines,
      exec: { env, containment: child.commands, cwd: options.cwd },
    });
}

/** A stop is clean when the child died of the stop signal, or exited 0 or 128 + that signal. */
function isCleanStop(ending: Termination): boolean {
  if (ending.forced) return false;
  if (ending.signal !== null) return ending.signal === ending.stopSignal;
  return (
    ending.exitCode === 0 || ending.exitCode === exitStatusOf({ exitCode: null, signal: ending.stopSignal })
  );
}

/**
 * Resolves when `signal` aborts, after calling `begin` inside the abort event itself; never
 * settles if `until` aborts first (leaving no listener). Beginning inside the event, rather than
 * when the awaiting run resumes, matters for the stop: when fifty components stop at once, every
 * process group gets its stop signal in the same turn and they all exit in parallel while Corral
 * does its bookkeeping, instead of one after another.
 */
function onAbort(signal: AbortSignal, until: AbortSignal, begin: () => void): Promise<void> {
  return new Promise((resolve) => {
    const run = (): void => {
      begin();
      resolve();
    };
    if (signal.aborted) run();
    else signal.addEventListener('abort', run, { once: true, signal: until });
  });
}

/**
 * Runs the readiness check until `stop` or `settled` aborts. Settles only if the check fails (with
 * the failure), so it can be raced against the child's end; success marks the component ready.
 */
function probeFailure(
  check: ReadyCheck | undefined,
  child: RunningProcess,
  ctx: ComponentContext,
  stop: AbortSignal,
  settled: AbortSignal,
): Promise<{ error: unknown }> {
  if (!check) {
    ctx.ready();
    return new Promise(() => undefined);
  }
  // Combined only when there is a probe: AbortSignal.any is among the dearer objects of a run.
  const signal = AbortSignal.any([stop, settled]);
  return check(signal, child, ctx).then(
    () => {
      ctx.ready();
      return new Promise<never>(() => undefined);
    },
    // An abort means the child ended or a stop came first: that one is handled, not this.
    (error: unknown) => (signal.aborted ? new Promise<never>(() => undefined) : { error }),
  );
}
