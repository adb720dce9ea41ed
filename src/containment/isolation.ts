import { CorralError } from '../core/errors.js';
import type { CoreEvent, WarningEvent } from '../core/events.js';
import { detectCgroups, type CgroupParent, type ComponentCgroup, type DetectOptions } from './cgroup.js';
import { ProcessTable } from './liveness.js';
import type { NamespacePlace } from './namespace.js';
import type { CommandContainment } from '../process/helper-command.js';
import { systemTool } from '../util/system-tools.js';
import type { StopTarget } from '../process/terminate.js';
import { signalQuietly } from '../util/process-group.js';
import { Watchdog, type WatchdogLostError, type WatchdogOptions } from './watchdog.js';

/**
 * The layers that keep a component's processes from outliving Corral, owned once per Corral
 * instance and shared by its process components:
 *
 * 1. parent-death signal: the direct child gets SIGKILL when Corral dies (setpriv, per child);
 * 2. watchdog: a small process outside Corral that stops every registered process group (and
 *    cgroup) when Corral's pipe to it closes, however Corral died;
 * 3. cgroups: each component runs in its own cgroup, so descendants that left the process group
 *    (setsid, daemons) are still found and killed with `cgroup.kill`.
 *
 * Each layer can be switched off, for negative-control tests and for hosts where one misbehaves.
 * A layer that is wanted but unavailable at start-up is reported once, as a `warning` event.
 * A watchdog that fails while Corral runs is replaced; if it cannot be (see watchdog.ts), the
 * isolation is {@link Isolation.lost}: it says so once (a `WATCHDOG_LOST` warning event) and starts
 * nothing more, and its owner should stop what runs (the CLI stops the stack and exits 1).
 */
export interface IsolationOptions {
  /** @default true */
  readonly parentDeathSignal?: boolean;
  /** `true` or options for the watchdog. @default true */
  readonly watchdog?: boolean | WatchdogOptions;
  /** `true` or options for cgroup discovery. @default true */
  readonly cgroup?: boolean | DetectOptions;
  /**
   * Receives the warnings (a layer unavailable, the watchdog restarted). Without it, they are
   * emitted through the first component that starts (its `ctx.emit`), each once.
   */
  readonly onWarning?: (warning: WarningEvent) => void;
  /**
   * Where this Corral runs: pass `insideNamespace()` from the inner Corral of isolation mode. There
   * every Corral is pid 2 and other Corrals' pids are not visible, so the cgroup directory is named
   * after the outer pid and stale directories are left alone.
   * @default { inside: false }
   */
  readonly namespace?: NamespacePlace;
}

/** Which layers are in force. */
export type Layers = Readonly<Record<'parentDeathSignal' | 'watchdog' | 'cgroup', boolean>>;

/** One run of one component inside the isolation; see {@link Isolation.contain}. */
export interface Containment extends Required<Pick<CommandContainment, 'prefix' | 'parentDeathSignal'>> {
  /** Registers the child's process group with the watchdog; pass as `spawnChild`'s `onFork`. */
  readonly onFork: (pid: number) => void;
  /**
   * The same layers for the component's helper commands (exec probes, a drain's connections
   * command): its cgroup, a parent-death signal, and the watchdog while they run.
   */
  readonly commands: CommandContainment;
  /**
   * The isolation's parts of a {@link StopTarget}: signal, kill and "empty" over the whole cgroup,
   * and the view of /proc shared by every stop.
   */
  readonly stopHooks: Pick<StopTarget, 'signalAll' | 'killAll' | 'isEmpty' | 'processes'>;
  /** Unregisters everything and removes the cgroup. Call once the group and cgroup are empty. */
  release(): Promise<void>;
}

export class Isolation {
  readonly layers: Layers;
  readonly #watchdog: Watchdog | undefined;
  readonly #cgroups: CgroupParent | undefined;
  readonly #onWarning: ((warning: WarningEvent) => void) | undefined;
  /** Warnings not yet delivered (when there is no `onWarning`, until a component can emit them). */
  #pending: WarningEvent[] = [];
  #closed = false;
  readonly #lost = new AbortController();
  /** Every process group started inside and not yet released: what {@link killAll} kills. */
  readonly #groups = new Set<number>();
  /** Shared by the stops of every component, which poll /proc at about the same moments. */
  readonly #processes = new ProcessTable();

  /**
   * Sets up every wanted layer: finds a writable cgroup v2 hierarchy, starts the watchdog, looks
   * for setpriv. Never rejects; what is missing becomes a warning.
   */
  static async create(options: IsolationOptions = {}): Promise<Isolation> {
    const warnings: WarningEvent[] = [];
    const onWarning = options.onWarning;
    const deliver = (warning: WarningEvent): void => {
      if (onWarning) onWarning(warning);
      else warnings.push(warning);
    };

    const wantDeathSignal = options.parentDeathSignal ?? true;
    if (wantDeathSignal && systemTool('setpriv') === undefined) {
      deliver({
        type: 'warning',
        code: 'PARENT_DEATH_SIGNAL_UNAVAILABLE',
        message:
          "util-linux's setpriv is not installed, so children get no parent-death signal; if Corral is killed, they rely on the watchdog alone",
      });
    }

    let cgroups: CgroupParent | undefined;
    if (options.cgroup ?? true) {
      const namespace = options.namespace ?? { inside: false };
      const detection = await detectCgroups({
        // Inside a PID namespace every Corral is pid 2, and other Corrals' pids are not visible.
        ...(namespace.inside ? { ownerPid: namespace.outerPid, removeStale: false } : {}),
        ...(typeof options.cgroup === 'object' ? options.cgroup : {}),
      });
      if (detection.available) cgroups = detection.parent;
      else deliver(detection.warning);
    }

    let watchdog: Watchdog | undefined;
    if (options.watchdog ?? true) {
      try {
        watchdog = new Watchdog({
          ...(typeof options.watchdog === 'object' ? options.watchdog : {}),
          onWarning: (warning) => isolation.#warn(warning),
          onLost: (error) => isolation.#loseWatchdog(error),
        });
      } catch (error) {
        deliver({
          type: 'warning',
          code: 'WATCHDOG_UNAVAILABLE',
          message: `cannot start the watchdog (${(error as Error).message}); if Corral is killed, descendants of its components may survive`,
        });
      }
    }
    // Our `corral-<pid>/` outlives us if Corral is killed; the watchdog removes it at the end.
    if (cgroups) watchdog?.removeAtEnd(cgroups.path);

    const isolation = new Isolation(
      {
        parentDeathSignal: wantDeathSignal && systemTool('setpriv') !== undefined,
        watchdog: watchdog !== undefined,
        cgroup: cgroups !== undefined,
      },
      watchdog,
      cgroups,
      onWarning,
    );
    isolation.#pending = warnings;
    return isolation;
  }

  private constructor(
    layers: Layers,
    watchdog: Watchdog | undefined,
    cgroups: CgroupParent | undefined,
    onWarning: ((warning: WarningEvent) => void) | undefined,
  ) {
    this.layers = layers;
    this.#watchdog = watchdog;
    this.#cgroups = cgroups;
    this.#onWarning = onWarning;
  }

  /** The watchdog's pid, while it runs (tests use it). */
  get watchdogPid(): number | undefined {
    return this.#watchdog?.pid;
  }

  /** The `corral-<pid>/` cgroup directory, when the cgroup layer is in force. */
  get cgroupPath(): string | undefined {
    return this.#cgroups?.path;
  }

  /**
   * Aborts, with a WatchdogLostError as its reason, when the watchdog that was running has failed
   * for good: from then on a SIGKILL of Corral may leave processes behind, and {@link contain}
   * rejects. Never aborts when the watchdog was off or unavailable from the start.
   */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /**
   * Asks the watchdog to remove directory `path` and everything in it, should Corral die without
   * removing it itself (a SIGKILL): for temporary directories Corral made. A no-op without a
   * watchdog.
   */
  removeIfKilled(path: string): void {
    this.#watchdog?.removeTreeAtEnd(path);
  }

  /**
   * Prepares one run of `component`: creates its cgroup and registers it with the watchdog
   * before anything is spawned into it. Undelivered warnings go out through `emit` first.
   * Rejects if the cgroup cannot be created (nothing was started then).
   */
  async contain(
    component: string,
    stopSignal: NodeJS.Signals,
    emit: (event: CoreEvent) => void,
  ): Promise<Containment> {
    if (this.#closed)
      throw new CorralError(
        'ISOLATION_CLOSED',
        `cannot start component \`${component}\`: its isolation was closed`,
      );
    for (const warning of this.#pending.splice(0)) emit(warning);
    if (this.#lost.signal.aborted) throw this.#lost.signal.reason as WatchdogLostError;
    const watchdog = this.#watchdog;
    let cgroup: ComponentCgroup | undefined;
    if (this.#cgroups) {
      cgroup = await this.#cgroups.createComponentCgroup(component);
      watchdog?.watchCgroup(cgroup.path, stopSignal);
    }
    let pgid: number | undefined;
    let released = false;
    const prefix = cgroup?.joinPrefix ?? [];
    const parentDeathSignal = this.layers.parentDeathSignal;
    const groups = this.#groups;
    return {
      prefix,
      parentDeathSignal,
      onFork: (pid) => {
        pgid = pid;
        groups.add(pid);
        // Tied to the cgroup, which holds the whole group: the watchdog need not search /proc.
        watchdog?.watchGroup(pid, stopSignal, cgroup?.path);
      },
      commands: {
        prefix,
        parentDeathSignal,
        trackGroup: (pid) => {
          groups.add(pid);
          // A helper is not stopped gracefully: SIGKILL is its stop signal.
          watchdog?.watchGroup(pid, 'SIGKILL', cgroup?.path);
          return () => {
            groups.delete(pid);
            watchdog?.unwatchGroup(pid);
          };
        },
      },
      stopHooks: {
        processes: this.#processes,
        ...(cgroup && {
          signalAll: (signal: NodeJS.Signals) => {
            cgroup.signal(signal);
          },
          killAll: () => cgroup.kill(),
          isEmpty: () => !cgroup.populated(),
        }),
      },
      release: async () => {
        if (released) return;
        released = true;
        if (pgid !== undefined) {
          groups.delete(pgid);
          watchdog?.unwatchGroup(pgid);
        }
        if (!cgroup) return;
        watchdog?.unwatchCgroup(cgroup.path);
        await cgroup.remove().catch(() => undefined);
      },
    };
  }

  /**
   * SIGKILLs every process started inside, now: each process group not yet released, and through
   * `cgroup.kill` on `corral-<pid>/` everything in every component's cgroup, escapees included.
   * For the last resort (a third Ctrl-C, a spent shutdown budget), so synchronous: safe right
   * before `process.exit`. Without `cgroup.kill` (kernels before 5.14), the process groups here
   * and the watchdog, once Corral has exited, are what remains. Safe at any time, also after close.
   */
  killAll(): void {
    for (const pgid of this.#groups) signalQuietly(-pgid, 'SIGKILL');
    this.#cgroups?.killAllSync();
  }

  /**
   * Stops the watchdog (which, with nothing registered, just exits), waits for it so that nothing
   * is left, and removes the cgroup directory. Call after every component has finished. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog?.close();
    await this.#watchdog?.waitForExit();
    await this.#cgroups?.close();
  }

  #warn(warning: WarningEvent): void {
    if (this.#onWarning) this.#onWarning(warning);
    else this.#pending.push(warning);
  }

  #loseWatchdog(error: WatchdogLostError): void {
    this.#warn({ type: 'warning', code: error.code, message: error.message });
    this.#lost.abort(error);
  }
}

/**
 * The containment of a process component given no isolation: what every child gets anyway (its own
 * session and process group, and a parent-death signal where setpriv is installed), and nothing
 * more: no watchdog, no cgroup, no warning about either. A SIGKILL of Corral then kills the direct
 * child, but what the child started outlives it unless it dies with its parent.
 */
export function processLayersOnly(): Containment {
  return {
    prefix: [],
    parentDeathSignal: true,
    onFork: () => undefined,
    commands: { prefix: [] },
    stopHooks: {},
    release: () => Promise.resolve(),
  };
}
