import { isatty } from 'node:tty';
import type { Registry } from 'prom-client';
import { dirname, resolve } from 'node:path';
import { Isolation } from '../containment/isolation.js';
import { checkBinaries } from '../process/lookup.js';
import { noInitWarning, takePidOnePlace, type PidOnePlace } from '../containment/init.js';
import { checkNamespaceSupport, insideNamespace, runInNamespace } from '../containment/namespace.js';
import { ControlSocketError, defaultSocketPath } from '../control/socket-path.js';
import { ControlServer, type ControlHandler } from '../control/server.js';
import { LogBuffer } from '../control/log-buffer.js';
import { StatusBoard } from '../control/status-board.js';
import type { Component } from '../core/component.js';
import { ComponentFailedError, describe, ShutdownTimeoutError } from '../core/errors.js';
import { Manager } from '../core/manager.js';
import type { HostPort } from '../util/address.js';
import { Redactor } from '../util/redact.js';
import { buildElector, buildStack } from '../stackfile/build.js';
import { controlHandler, inTurns } from './control-service.js';
import { reloadStack, type ReloadOptions } from './reload.js';
import { readinessOf } from '../http/readiness.js';
import type { Stack } from '../stackfile/schema.js';
import { EXIT, type ExitCode } from './exit.js';
import { EventFunnel } from './funnel.js';
import { OutputDeadline } from './output-deadline.js';
import { createRenderer, type LogFormat, type LogLevel, type Renderer } from './render.js';
import { StopReport } from './report.js';
import { RunResources } from './resources.js';
import { handleSignals, type SignalActions } from './signals.js';
import type { BuiltStack } from '../stackfile/build.js';
import { StopControl } from './stop-control.js';
import type { SystemdNotifier } from './systemd-service.js';
import { openWorkDir } from './workdir.js';

export interface RunOptions {
  readonly stack: Stack;
  /** The stack file, for relative paths and the PID-namespace re-exec. */
  readonly file: string;
  /** The CLI's own arguments, to run the same command inside a PID namespace. */
  readonly argv: readonly string[];
  /** Hides the stack's secrets in every event and message. @default URL credentials only */
  readonly redactor?: Redactor;
  readonly format?: LogFormat;
  readonly level?: LogLevel;
  /** The control socket's path. @default defaultSocketPath(file) */
  readonly socket?: string;
  /** What SIGHUP does: re-read the stack file, or stop as SIGTERM does. @default 'reload' */
  readonly sighup?: 'reload' | 'stop';
}

/**
 * `corral run`: (isolation mode: re-run ourselves under Corral's init in a new PID namespace,
 * unless that init is PID 1 of ours already,) set up how the run is shown, handle signals, raise
 * the isolation layers, bind /ready and /metrics, build every component and check every binary
 * before anything starts, run the manager, and whatever happened, print the stop report and leave
 * nothing behind. Resolves to the exit code; rejects
 * only when it could not set up, before anything started.
 */
export async function runCommand(options: RunOptions): Promise<number> {
  const { stack } = options;
  const pidOne = takePidOnePlace();
  if (stack.isolation.pidNamespace && !insideNamespace().inside && pidOne !== 'init') {
    return runIsolated(options);
  }

  const stop = new StopControl();
  const report = new StopReport(stack.components.map((c) => c.name));
  const outputDeadline = new OutputDeadline(stack.shutdown.timeout);
  const resources = new RunResources();
  const renderer = await createRenderer({
    format: options.format ?? stack.log.format ?? (isatty(1) ? 'pretty' : 'json'),
    level: options.level ?? stack.log.level ?? 'info',
    status: () => manager.status(),
    // Nobody can see the stack's output any more: stop it, as a signal would, rather than run on
    // discarding every line.
    onLost: (stream, error) => {
      funnel.alert(`${stream} was closed (${describe(error)}); stopping the stack`);
      stop.stop({ failed: true });
    },
    onOutputEvent: (event) => funnel.emit(event),
  });
  const board = new StatusBoard();
  const logs = new LogBuffer();
  const funnel = new EventFunnel(options.redactor ?? new Redactor(), renderer, [
    outputDeadline,
    report,
    board,
  ]);
  const manager = new Manager({
    shutdownTimeout: stack.shutdown.timeout,
    elector: await buildElector(stack, funnel.emit),
  });
  manager.on(funnel.emit);
  sayPidOne(funnel, pidOne, stack);
  const serviceManager = await notifyServiceManager(manager, funnel, stack);
  const metrics = stack.metrics && {
    address: stack.metrics.address,
    registry: await countMetrics(manager, funnel, renderer, resources, stack),
  };

  // From here on a signal is ours to handle, even while we are still setting up (Node's default
  // would kill us and orphan whatever had started).
  const handlingSignals = new AbortController();
  // A run's last resort, for the third stop signal and a spent shutdown budget: nothing may outlive
  // Corral then, whatever its components' own timeouts say.
  const killEverything = (): void => resources.isolation?.killAll();
  // Changes to what runs, from the control socket or SIGHUP, one at a time.
  const inTurn = inTurns();
  const reloading: ReloadOptions = {
    file: options.file,
    redactor: options.redactor ?? new Redactor(),
    manager,
    current: stack,
    build: async (subset) => {
      const isolation = resources.isolation;
      if (!isolation || !resources.workDir) throw new Error('the stack has not started yet');
      const built = await buildFor(
        subset,
        options,
        isolation,
        funnel,
        renderer,
        resources.workDir.path,
        logs,
      );
      resources.reloaded.push(built);
      return built;
    },
    say: (level, message) => funnel.say(level, message),
  };
  const reload = (): Promise<string> => inTurn(() => reloadStack(reloading));
  handleSignals(
    escalation(funnel, stop, manager, killEverything, reload),
    handlingSignals.signal,
    options.sighup,
  );
  let started = false;
  try {
    const isolation = (resources.isolation = await isolate(funnel, stop, handlingSignals.signal));
    // Everything that can fail on an address in use, an unusable work dir or a missing binary
    // happens before anything starts.
    let components: readonly Component[];
    try {
      await serveEndpoints(stack, metrics, manager, stop, resources);
      const handler = controlHandler({
        manager,
        board,
        logs,
        ready: () => readinessOf(manager, () => stop.terminating) === 'READY',
        stopAll: () => stop.stop(),
        reload,
        say: (message) => funnel.say('info', message),
        inTurn,
      });
      await serveControl(options, isolation, funnel, handler, resources);
      components = await prepareComponents(options, isolation, funnel, renderer, resources, logs);
    } catch (error) {
      funnel.say('error', describe(error));
      return EXIT.usage;
    }
    for (const component of components) manager.add(component);
    started = true;
    return await supervise(manager, stop, funnel, isolation, killEverything);
  } finally {
    handlingSignals.abort();
    if (started) renderer.finish(report);
    await serviceManager?.close();
    await resources.release();
    await outputDeadline.deliver(renderer);
  }
}

/**
 * Under systemd with `Type=notify` (`NOTIFY_SOCKET` is set): tells it when the stack is ready,
 * when it stops and how far along it is, from the run's events (see systemd-service.ts); the
 * sd_notify variables are removed from the environment every child gets. Imported only then.
 */
async function notifyServiceManager(
  manager: Manager,
  funnel: EventFunnel,
  stack: Stack,
): Promise<SystemdNotifier | undefined> {
  if (process.env.NOTIFY_SOCKET === undefined) return undefined;
  const { SystemdNotifier } = await import('./systemd-service.js');
  const notifier = SystemdNotifier.fromEnvironment(process.env, {
    status: () => manager.status(),
    ready: () => manager.ready(),
    shutdownTimeout: stack.shutdown.timeout,
    onWarning: funnel.emit,
  });
  if (notifier) funnel.add(notifier);
  return notifier;
}

/**
 * What Corral as (or right below) PID 1 of its PID namespace means for this run. Under its init
 * (`corral` as a container's entrypoint) isolation mode would add nothing: the container's PID
 * namespace is one already, the init reaps orphans, and when it ends the kernel ends everything
 * left in the namespace. And a nested namespace needs privileges containers seldom have.
 */
function sayPidOne(funnel: EventFunnel, place: PidOnePlace, stack: Stack): void {
  if (place === 'self') funnel.emit(noInitWarning());
  if (place !== 'init' || insideNamespace().inside) return;
  if (stack.isolation.pidNamespace) {
    funnel.say(
      'info',
      "isolation.pidNamespace: not needed, Corral's init is PID 1 of this PID namespace already (a container's)",
    );
  } else {
    funnel.say('debug', "PID 1 is Corral's init: it reaps orphans and passes signals on");
  }
}

/**
 * Prometheus metrics, fed by the funnel. prom-client is imported only for a stack that serves
 * /metrics: a run keeps whatever it imported in memory for as long as it runs.
 */
async function countMetrics(
  manager: Manager,
  funnel: EventFunnel,
  renderer: Renderer,
  resources: RunResources,
  stack: Stack,
): Promise<Registry> {
  const metrics = (await import('./metrics.js')).createMetrics(manager, {
    alwaysLeader: !stack.leaderElection,
    sinks: () => [renderer.stdout, renderer.stderr, ...(resources.built?.files ?? [])],
  });
  funnel.add(metrics);
  return metrics.registry;
}

/** What each stop signal does, one step further each time (see {@link handleSignals}). */
function escalation(
  funnel: EventFunnel,
  stop: StopControl,
  manager: Manager,
  killEverything: () => void,
  reload: () => Promise<unknown>,
): SignalActions {
  return {
    reload: () => {
      funnel.say('info', 'SIGHUP: reloading the stack file');
      // A failed reload has said why, and changed nothing.
      reload().catch(() => undefined);
    },
    shutdown: (signal) => {
      funnel.say(
        'info',
        `${signal}: shutting down (again to skip the drain, a third time to kill everything)`,
      );
      stop.stop();
    },
    hurry: (signal) => {
      funnel.say('warn', `${signal}: skipping the rest of the drain`);
      manager.skipDrain();
    },
    kill: (signal) => {
      funnel.say('error', `${signal}: killing every process now`);
      killEverything();
      process.exit(EXIT.failed);
    },
    drain: () => {
      stop.announce();
      funnel.say('info', 'SIGUSR2: draining every drainable component; not ready from now on');
      void manager.drain();
    },
  };
}

/**
 * The isolation layers every component runs in. Without its watchdog a SIGKILL of Corral could
 * leave processes behind: when it is lost for good, the run stops while it still can, and fails.
 */
async function isolate(funnel: EventFunnel, stop: StopControl, until: AbortSignal): Promise<Isolation> {
  const isolation = await Isolation.create({ onWarning: funnel.emit, namespace: insideNamespace() });
  const stopOnLoss = (): void => stop.stop({ failed: true });
  if (isolation.lost.aborted) stopOnLoss();
  isolation.lost.addEventListener('abort', stopOnLoss, { once: true, signal: until });
  return isolation;
}

/**
 * Binds /ready (with /live) and /metrics, first: an address in use is a reason not to start, found before
 * anything is prepared. Node's HTTP server is imported only for a stack that serves something.
 */
async function serveEndpoints(
  stack: Stack,
  metrics: { readonly address: HostPort; readonly registry: Registry } | undefined,
  manager: Manager,
  stop: StopControl,
  resources: RunResources,
): Promise<void> {
  if (!stack.readiness && !metrics) return;
  const { serveMetrics, serveReadiness } = await import('./endpoints.js');
  if (stack.readiness) {
    // TERMINATING from the first stop signal (or SIGUSR2) on, before the manager hears of it.
    const terminating = (): boolean => stop.terminating;
    resources.endpoints.push(await serveReadiness(stack.readiness.address, manager, terminating));
  }
  if (metrics) resources.endpoints.push(await serveMetrics(metrics.address, metrics.registry));
}

/**
 * Serves the control socket (see src/control/). Its directory, when the run made it, goes with the
 * run, also when Corral is killed (the watchdog removes it). The default socket is a convenience: a
 * run that cannot serve it (another run of the same file serves it) runs on without, and says so;
 * a socket given with --socket must be served.
 */
async function serveControl(
  options: RunOptions,
  isolation: Isolation,
  funnel: EventFunnel,
  handler: ControlHandler,
  resources: RunResources,
): Promise<void> {
  try {
    const control = (resources.control = await ControlServer.listen(
      options.socket ?? defaultSocketPath(options.file),
      handler,
    ));
    if (control.madeDir !== undefined) isolation.removeIfKilled(control.madeDir);
  } catch (error) {
    if (options.socket !== undefined || !(error instanceof ControlSocketError)) throw error;
    funnel.emit({
      type: 'warning',
      code: error.code,
      message: `${error.message}: the control commands cannot reach this run (give it --socket)`,
    });
  }
}

/**
 * Opens the work dir, builds every component (preset files written, output files opened) and
 * checks that every binary exists: a bad file, an unusable work dir or a missing binary fails here.
 */
async function prepareComponents(
  options: RunOptions,
  isolation: Isolation,
  funnel: EventFunnel,
  renderer: Renderer,
  resources: RunResources,
  logs: LogBuffer,
): Promise<readonly Component[]> {
  const { stack } = options;
  const workDir = (resources.workDir = await openWorkDir(stack.workDir, { stackFile: options.file }));
  if (workDir.temporary) isolation.removeIfKilled(workDir.path);
  const built = (resources.built = await buildFor(
    stack,
    options,
    isolation,
    funnel,
    renderer,
    workDir.path,
    logs,
  ));
  await checkBinaries(built.processes.map((p) => p.binary));
  return built.components;
}

/** Builds `stack`'s components for this run: at the start, and those a reload changes or adds. */
function buildFor(
  stack: Stack,
  options: RunOptions,
  isolation: Isolation,
  funnel: EventFunnel,
  renderer: Renderer,
  workDir: string,
  logs: LogBuffer,
): Promise<BuiltStack> {
  return buildStack({
    stack,
    baseDir: dirname(resolve(options.file)),
    workDir,
    isolation,
    output: renderer,
    warn: (component, warning) => funnel.emit({ type: 'warning', component, ...warning }),
    onOutputEvent: (event) => funnel.emit(event),
    copyOutput: (name) => logs.copyOf(name),
  });
}

/**
 * Runs the stack until it has stopped, and decides the exit code: 0 for a clean stop or every
 * component finished, 1 for a failure (said here), a shutdown over budget (everything is killed,
 * whatever its own timeouts say: the `shutdown.stuck` event has said who), or a stop that a
 * failure asked for (a closed stdout, a lost watchdog).
 */
async function supervise(
  manager: Manager,
  stop: StopControl,
  funnel: EventFunnel,
  isolation: Isolation,
  killEverything: () => void,
): Promise<ExitCode> {
  try {
    await manager.run(stop.signal);
  } catch (error) {
    if (error instanceof ShutdownTimeoutError) killEverything();
    else if (error instanceof ComponentFailedError)
      funnel.say('error', error.message, { component: error.component });
    else funnel.say('error', describe(error));
    return EXIT.failed;
  }
  if (isolation.lost.aborted) {
    funnel.say('error', `stopped the stack: ${describe(isolation.lost.reason)}`);
    return EXIT.failed;
  }
  return stop.failed ? EXIT.failed : EXIT.ok;
}

/** Isolation mode: the same command again, as init of a new PID namespace, so nothing can escape. */
async function runIsolated(options: RunOptions): Promise<number> {
  const support = await checkNamespaceSupport();
  if (!support.available) {
    process.stderr.write(`corral: isolation.pidNamespace is set, but ${support.reason}\n`);
    return EXIT.usage;
  }
  // The inner Corral knows the stack's state, so it is the one that notifies systemd: the
  // watchdog that names this process is handed on to it.
  if (process.env.WATCHDOG_PID === String(process.pid)) delete process.env.WATCHDOG_PID;
  const entry = process.argv[1] ?? '';
  // Inside a user namespace our uid, and so the default socket's path, would not be the one the
  // control commands derive outside it.
  const socket = options.socket === undefined ? ['--socket', defaultSocketPath(options.file)] : [];
  const run = runInNamespace([process.execPath, ...process.execArgv, entry, ...options.argv, ...socket], {
    userNamespace: support.userNamespace,
  });
  return run.exitCode;
}
