import { writeFileSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { dirname, join, resolve } from 'node:path';
import { Isolation } from '../containment/isolation.js';
import { checkBinaries } from '../process/lookup.js';
import { checkNamespaceSupport, insideNamespace, runInNamespace } from '../containment/namespace.js';
import { ComponentFailedError, describe, ShutdownTimeoutError } from '../core/errors.js';
import type { CorralEvent } from '../core/events.js';
import { Manager } from '../core/manager.js';
import { Redactor } from '../util/redact.js';
import { buildElector, buildStack, type BuiltStack } from '../stackfile/build.js';
import type { Endpoint, Readiness } from './endpoints.js';
import { createRenderer, type LogFormat, type LogLevel, type Renderer } from './render.js';
import { StopReport } from './report.js';
import { handleSignals } from './signals.js';
import type { Stack } from '../stackfile/schema.js';
import { openWorkDir, type WorkDir } from './workdir.js';

/**
 * Fields of events and errors that Corral sets from names and enumerations, never from a value
 * (component names are keys in the stack file, which are not substituted): shown as they are, so
 * that a secret which happens to equal one cannot garble them.
 */
const STRUCTURAL: ReadonlySet<string> = new Set([
  'type',
  'component',
  'reason',
  'phase',
  'signal',
  'code',
  'name',
]);

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
}

/**
 * `corral run`, as a narrative: (isolation mode: re-run ourselves as init of a PID namespace),
 * bind /ready and /metrics, build every component and check every binary before anything starts,
 * escalate on signals, run the manager, and whatever happened, print the stop report and leave
 * nothing behind. Resolves to the exit code; rejects only when it could not set up, before
 * anything started.
 */
export async function runCommand(options: RunOptions): Promise<number> {
  const { stack } = options;
  if (stack.isolation.pidNamespace && !insideNamespace().inside) return runIsolated(options);

  const format = options.format ?? stack.log.format ?? (isatty(1) ? 'pretty' : 'json');
  const level = options.level ?? stack.log.level ?? 'info';
  const redactor = options.redactor ?? new Redactor();
  const manager = new Manager({
    shutdownTimeout: stack.shutdown.timeout,
    elector: await buildElector(stack, emit),
  });
  const stop = new AbortController();
  /** Corral's stdout or stderr, once gone: the run then stops, and exits 1. */
  const lostStdio: string[] = [];
  const renderer = await createRenderer({
    format,
    level,
    status: () => manager.status(),
    // Nobody can see the stack's output any more: stop it, as a signal would, rather than run on
    // discarding every line.
    onLost: (stream, error) => {
      lostStdio.push(stream);
      terminating = true;
      renderer.alert(redactor.text(`${stream} was closed (${describe(error)}); stopping the stack`));
      stop.abort();
    },
    onOutputEvent: (event) => emit(event),
  });
  const report = new StopReport(stack.components.map((c) => c.name));
  // prom-client is imported only for a stack that serves /metrics: a run keeps whatever it imported
  // in memory for as long as it runs.
  const metrics = stack.metrics && {
    address: stack.metrics.address,
    ...(await import('./metrics.js')).createMetrics(manager, {
      alwaysLeader: !stack.leaderElection,
      sinks: () => [renderer.stdout, renderer.stderr, ...(built?.files ?? [])],
    }),
  };
  const pids = new Set<number>();
  /** When the shutdown began: its budget also bounds the wait for the output to be delivered. */
  let shutdownAt: number | undefined;
  /** Every event passes here, redacted once before anything shows, reports, counts or logs it. */
  function emit(event: CorralEvent): void {
    if (event.type === 'process.spawned') pids.add(event.pid);
    if (event.type === 'shutdown.started') shutdownAt ??= performance.now();
    const shown = redactor.value(event, STRUCTURAL);
    const stamped = { ...shown, time: Date.now() };
    renderer.event(stamped);
    report.observe(stamped);
    metrics?.observe(shown);
  }
  manager.on((event) => emit(event));
  /** Every message of Corral's own passes here, redacted like the events. */
  const say: Renderer['say'] = (messageLevel, message, fields) => {
    renderer.say(messageLevel, redactor.text(message), fields && redactor.value(fields, STRUCTURAL));
  };

  // Handlers first: from here on a signal is ours to handle, even while we are still setting up
  // (Node's default would kill us and orphan whatever had started).
  const stopSignals = new AbortController();
  let terminating = false;
  /** Set once the isolation layers are up; the third signal kills through them. */
  const held: { isolation?: Isolation } = {};
  handleSignals(
    {
      shutdown: (signal) => {
        terminating = true;
        say('info', `${signal}: shutting down (again to skip the drain, a third time to kill everything)`);
        stop.abort();
      },
      hurry: (signal) => {
        say('warn', `${signal}: skipping the rest of the drain`);
        manager.skipDrain();
      },
      kill: (signal) => {
        say('error', `${signal}: killing every process now`);
        killEverything(pids, held.isolation);
        process.exit(1);
      },
      drain: () => {
        terminating = true;
        say('info', 'SIGUSR2: draining every drainable component; not ready from now on');
        void manager.drain();
      },
    },
    stopSignals.signal,
  );

  const isolation = await Isolation.create({ onWarning: emit });
  held.isolation = isolation;
  // Without its watchdog a SIGKILL of Corral could leave processes behind: stop while we can.
  const stopOnLoss = (): void => {
    terminating = true;
    stop.abort();
  };
  if (isolation.lost.aborted) stopOnLoss();
  isolation.lost.addEventListener('abort', stopOnLoss, { once: true, signal: stopSignals.signal });
  const endpoints: Endpoint[] = [];
  let started = false;
  let workDir: WorkDir | undefined;
  let built: BuiltStack | undefined;
  try {
    // The addresses first: one in use is a reason not to start, found before anything is prepared.
    const readiness = (): Readiness =>
      terminating || manager.phase() !== 'running' ? 'TERMINATING' : manager.ready() ? 'READY' : 'NOT_READY';
    try {
      if (stack.readiness || metrics) {
        // Node's HTTP server is imported only for a stack that serves something.
        const { serveMetrics, serveReadiness } = await import('./endpoints.js');
        if (stack.readiness) endpoints.push(await serveReadiness(stack.readiness.address, readiness));
        if (metrics) endpoints.push(await serveMetrics(metrics.address, metrics.registry));
      }
    } catch (error) {
      say('error', describe(error));
      return 2;
    }

    // Everything that can fail on a bad file, an unusable work dir or a missing binary happens
    // before anything starts.
    try {
      workDir = await openWorkDir(stack.workDir, { stackFile: options.file });
      if (workDir.temporary) isolation.removeIfKilled(workDir.path);
      built = await buildStack({
        stack,
        baseDir: dirname(resolve(options.file)),
        workDir: workDir.path,
        isolation,
        output: renderer,
        warn: (component, warning) => emit({ type: 'warning', component, ...warning }),
        onOutputEvent: (event) => emit(event),
      });
      await checkBinaries(built.processes.map((p) => p.binary));
    } catch (error) {
      say('error', describe(error));
      return 2;
    }
    for (const component of built.components) manager.add(component);

    try {
      started = true;
      await manager.run(stop.signal);
      if (isolation.lost.aborted) {
        say('error', `stopped the stack: ${describe(isolation.lost.reason)}`);
        return 1;
      }
      return lostStdio.length > 0 ? 1 : 0;
    } catch (error) {
      if (error instanceof ShutdownTimeoutError) {
        // The shutdown.stuck event has said who; the budget is spent: nothing may outlive us, whatever its own timeouts say.
        killEverything(pids, isolation);
      } else if (error instanceof ComponentFailedError) {
        say('error', error.message, { component: error.component });
      } else {
        say('error', describe(error));
      }
      return 1;
    }
  } finally {
    stopSignals.abort();
    if (started) renderer.finish(report);
    await Promise.all(endpoints.map((e) => e.close()));
    await built?.close();
    // While the watchdog still runs: were Corral killed in between, the watchdog removes it.
    await workDir?.release();
    await isolation.close();
    await deliverOutput(renderer, shutdownAt, stack.shutdown.timeout);
  }
}

/**
 * Waits for whatever Corral wrote to reach its stdout and stderr, within what is left of the
 * shutdown budget: a reader that stopped reading must not keep Corral from exiting for ever.
 */
async function deliverOutput(
  renderer: Renderer,
  shutdownAt: number | undefined,
  budgetMs: number,
): Promise<void> {
  const left = (shutdownAt ?? performance.now()) + budgetMs - performance.now();
  const timeout = AbortSignal.timeout(Math.max(0, Math.ceil(left)));
  if (await renderer.flushed(timeout)) return;
  try {
    writeSync(
      2,
      "corral: the shutdown budget ran out before Corral's output was read; the rest of it is lost\n",
    );
  } catch {
    // stderr is gone too.
  }
}

/** SIGKILL to every process group we started and to our whole cgroup subtree. */
function killEverything(pids: Iterable<number>, isolation: Isolation | undefined): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const cgroup = isolation?.cgroupPath;
  if (cgroup) {
    try {
      // cgroup.kill on our parent cgroup kills every component's cgroup below it.
      writeFileSync(join(cgroup, 'cgroup.kill'), '1');
    } catch {
      // No cgroup.kill on this kernel: the process groups above and the watchdog remain.
    }
  }
}

/** Isolation mode: the same command again, as init of a new PID namespace, so nothing can escape. */
async function runIsolated(options: RunOptions): Promise<number> {
  const support = await checkNamespaceSupport();
  if (!support.available) {
    process.stderr.write(`corral: isolation.pidNamespace is set, but ${support.reason}\n`);
    return 2;
  }
  const entry = process.argv[1] ?? '';
  const run = runInNamespace([process.execPath, ...process.execArgv, entry, ...options.argv], {
    userNamespace: support.userNamespace,
  });
  return run.exitCode;
}
