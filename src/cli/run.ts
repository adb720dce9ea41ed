import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AlwaysLeader, type LeaderElector } from '../leader/elector.js';
import { Isolation } from '../process/isolation.js';
import { checkNamespaceSupport, insideNamespace, runInNamespace } from '../process/namespace.js';
import { ComponentFailedError, describe, ShutdownTimeoutError } from '../runtime/errors.js';
import type { CorralEvent } from '../runtime/events.js';
import { Manager } from '../runtime/manager.js';
import { Redactor } from '../util/redact.js';
import { buildStack, type BuiltStack } from './build.js';
import type { Endpoint, Readiness } from './endpoints.js';
import { createRenderer, type LogFormat, type LogLevel, type Renderer } from './render.js';
import { StopReport } from './report.js';
import { handleSignals } from './signals.js';
import type { Stack } from './stack-schema.js';
import { resumeOptimization, stopOptimizing } from './v8-flags.js';
import { openWorkDir } from './workdir.js';

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
 * build every component and check every binary before anything starts, serve /ready and /metrics,
 * escalate on signals, run the manager, and whatever happened, print the stop report and leave
 * nothing behind. Resolves to the exit code.
 */
export async function runCommand(options: RunOptions): Promise<number> {
  const { stack } = options;
  if (stack.isolation.pidNamespace && !insideNamespace().inside) return runIsolated(options);

  const format = options.format ?? stack.log.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = options.level ?? stack.log.level ?? 'info';
  const redactor = options.redactor ?? new Redactor();
  const manager = new Manager({
    shutdownTimeout: stack.shutdown.timeout,
    elector: await electorFor(stack, emit),
  });
  const renderer = await createRenderer({
    format,
    level,
    live: format === 'pretty' && process.stdout.isTTY,
    status: () => manager.status(),
  });
  const report = new StopReport(stack.components.map((c) => c.name));
  // prom-client is imported only for a stack that serves /metrics: a run keeps whatever it imported
  // in memory for as long as it runs (issue 3).
  const metrics = stack.metrics && {
    address: stack.metrics.address,
    ...(await import('./metrics.js')).createMetrics(manager, { alwaysLeader: !stack.leaderElection }),
  };
  const pids = new Set<number>();
  /** Every event passes here, redacted once before anything shows, reports, counts or logs it. */
  function emit(event: CorralEvent): void {
    if (event.type === 'process.spawned') pids.add(event.pid);
    const shown = redactor.value(event, STRUCTURAL);
    const stamped = { ...shown, time: Date.now() };
    renderer.event(stamped);
    report.observe(stamped);
    metrics?.observe(shown);
    // Start-up is over once every component is ready (see deferOptimization in bin/corral.js).
    if (event.type === 'component.ready' && manager.ready()) resumeOptimization();
    else if (event.type === 'shutdown.started') stopOptimizing();
  }
  manager.on((event) => emit(event));
  /** Every message of Corral's own passes here, redacted like the events. */
  const say: Renderer['say'] = (messageLevel, message, fields) => {
    renderer.say(messageLevel, redactor.text(message), fields && redactor.value(fields, STRUCTURAL));
  };

  // Handlers first: from here on a signal is ours to handle, even while we are still setting up
  // (Node's default would kill us and orphan whatever had started).
  const stop = new AbortController();
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
  const workDir = await openWorkDir(stack.workDir);
  const endpoints: Endpoint[] = [];
  let started = false;
  let built: BuiltStack | undefined;
  try {
    // Everything that can fail on a bad file or a missing binary happens before anything starts.
    try {
      built = await buildStack({
        stack,
        baseDir: dirname(resolve(options.file)),
        workDir: workDir.path,
        isolation,
        renderer,
        warn: (component, warning) => emit({ type: 'warning', component, ...warning }),
      });
      await Promise.all(built.processes.map((p) => p.preflight()));
    } catch (error) {
      say('error', describe(error));
      return 2;
    }
    for (const component of built.components) manager.add(component);

    const readiness = (): Readiness =>
      terminating || manager.phase() !== 'running' ? 'TERMINATING' : manager.ready() ? 'READY' : 'NOT_READY';
    try {
      if (stack.readiness || metrics) {
        // Node's HTTP server is imported only for a stack that serves something (issue 3: memory).
        const { serveMetrics, serveReadiness } = await import('./endpoints.js');
        if (stack.readiness) endpoints.push(await serveReadiness(stack.readiness.address, readiness));
        if (metrics) endpoints.push(await serveMetrics(metrics.address, metrics.registry));
      }
    } catch (error) {
      say('error', `cannot serve an endpoint: ${describe(error)}`);
      return 1;
    }

    try {
      started = true;
      await manager.run(stop.signal);
      return 0;
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
    await isolation.close();
    await workDir.release();
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

async function electorFor(stack: Stack, emit: (event: CorralEvent) => void): Promise<LeaderElector> {
  const postgres = stack.leaderElection?.postgres;
  if (!postgres) return new AlwaysLeader();
  // Loaded only when asked for: the PostgreSQL driver costs memory every other stack would pay.
  const { PostgresElector } = await import('../leader/postgres.js');
  return new PostgresElector({
    url: postgres.url,
    name: postgres.name,
    lease: postgres.lease,
    ...(postgres.renewInterval !== undefined && { renewInterval: postgres.renewInterval }),
    ...(postgres.retry !== undefined && { retry: postgres.retry }),
    // The manager announces terms itself (leader.elected / leader.lost); take only the elector's warnings.
    onEvent: (event) => {
      if (event.type === 'warning') emit(event);
    },
  });
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
