import type { ComponentStatus } from '../core/entry.js';
import type { StopReason, WarningEvent } from '../core/events.js';
import { formatMs } from '../core/errors.js';
import type { EventObserver, ShownEvent } from './funnel.js';
import { NotifySocket, type Notification } from './systemd-notify.js';
import { EXIT_ALLOWANCE_MS } from './systemd-unit.js';

/**
 * Corral as a systemd `Type=notify` service: what it tells the service manager, from the run's
 * events.
 *
 * - `READY=1` once every component that should run is ready (never, when the start fails);
 * - `STOPPING=1` when the shutdown begins, whoever began it;
 * - `STATUS=` how far along things are: "2/3 ready", "draining envoy", "stopping app, db";
 * - `EXTEND_TIMEOUT_USEC=` with every message of the shutdown, up to Corral's own deadline (its
 *   `shutdown.timeout`, then the time to kill what is left and exit): systemd then waits as long as
 *   Corral's own bound, even when `TimeoutStopSec` is shorter, and no longer;
 * - `WATCHDOG=1` every half of `WATCHDOG_USEC`, when that is set for Corral.
 */

/** What sd_notify reads from the environment; removed for every child, as its `unset_environment` does. */
const NOTIFY_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** How long the last messages may take to leave once the run is over. */
const CLOSE_GRACE_MS = 3_000;

export interface SystemdNotifierOptions {
  /** The manager's view of every component. */
  readonly status: () => readonly ComponentStatus[];
  /** Whether every component that should run is ready (the manager's `ready()`). */
  readonly ready: () => boolean;
  /** `shutdown.timeout`: how long the shutdown may take, from its first moment. */
  readonly shutdownTimeout: number;
  /** Told when a notification could not be sent (once). */
  readonly onWarning: (warning: WarningEvent) => void;
}

/** Follows a run's events and keeps systemd told; see the module doc. */
export class SystemdNotifier implements EventObserver {
  readonly #socket: NotifySocket;
  readonly #options: SystemdNotifierOptions;
  readonly #watchdog: NodeJS.Timeout | undefined;
  readonly #draining = new Set<string>();
  readonly #stopping = new Set<string>();
  #readySent = false;
  /** Set when the shutdown begins: Corral exits by then, whatever happens. */
  #deadline: number | undefined;
  #shutdownStatus = 'shutting down';
  /** The first component that failed, and the last one that ended on its own, for the stop's reason. */
  #failed: string | undefined;
  #completed: string | undefined;
  /** A drain without a stop (SIGUSR2) took place. */
  #drainedOnly = false;
  #lastStatus: string | undefined;

  /**
   * The notifier for this run when systemd asked for notifications (`NOTIFY_SOCKET` is set), else
   * undefined. Either way the sd_notify variables are removed from `env` (Corral's own
   * environment, which every child's is made from), so no component mistakes itself for the
   * service. The watchdog is kept only when `WATCHDOG_PID`, if set, names this process.
   */
  static fromEnvironment(
    env: NodeJS.ProcessEnv,
    options: SystemdNotifierOptions,
  ): SystemdNotifier | undefined {
    const { NOTIFY_SOCKET: address, WATCHDOG_USEC: usec, WATCHDOG_PID: pid } = env;
    for (const name of NOTIFY_ENV) Reflect.deleteProperty(env, name);
    if (!address) return undefined;
    const watchdogUs = Number(usec);
    const forUs = pid === undefined || Number(pid) === process.pid;
    const watchdogMs =
      Number.isSafeInteger(watchdogUs) && watchdogUs > 0 && forUs ? watchdogUs / 1000 : undefined;
    return new SystemdNotifier(
      new NotifySocket({ address, onWarning: options.onWarning }),
      watchdogMs,
      options,
    );
  }

  private constructor(socket: NotifySocket, watchdogMs: number | undefined, options: SystemdNotifierOptions) {
    this.#socket = socket;
    this.#options = options;
    // Pings prove that Corral's event loop runs; they must not keep it alive.
    this.#watchdog =
      watchdogMs === undefined
        ? undefined
        : setInterval(() => this.#socket.send({ WATCHDOG: '1' }), Math.max(1, watchdogMs / 2)).unref();
  }

  observe(event: ShownEvent): void {
    switch (event.type) {
      case 'component.failed':
        this.#failed ??= event.component;
        this.#finished(event.component);
        break;
      case 'component.completed':
        this.#completed = event.component;
        this.#finished(event.component);
        break;
      case 'component.stopped':
        this.#finished(event.component);
        break;
      case 'component.draining':
        if (this.#deadline === undefined) this.#drainedOnly = true;
        this.#draining.add(event.component);
        break;
      case 'component.drained':
        this.#draining.delete(event.component);
        break;
      case 'component.stopping':
        this.#draining.delete(event.component);
        this.#stopping.add(event.component);
        break;
      case 'component.starting':
      case 'component.ready':
      case 'component.restarting':
      case 'leader.elected':
      case 'leader.lost':
        break;
      case 'shutdown.started':
        this.#deadline = event.time + this.#options.shutdownTimeout + EXIT_ALLOWANCE_MS;
        this.#shutdownStatus = `shutting down: ${this.#why(event.reason)}`;
        this.#send({ STOPPING: '1', STATUS: this.#shutdownStatus });
        return;
      case 'shutdown.stuck':
        this.#send({
          STATUS: `shutdown did not finish within ${formatMs(event.timeoutMs)}: killing ${event.stuck
            .map((s) => s.component)
            .join(', ')}`,
        });
        return;
      case 'shutdown.phase':
        if (event.phase === 'stopped') this.#send({ STATUS: 'stopped' });
        return;
      default:
        return;
    }
    const status = this.#status();
    if (!this.#readySent && this.#deadline === undefined && this.#options.ready()) {
      this.#readySent = true;
      this.#send({ READY: '1', STATUS: status });
    } else if (status !== this.#lastStatus) this.#send({ STATUS: status });
  }

  /**
   * Stops the watchdog pings and resolves once the last messages have left (at most a few
   * seconds: a stuck `systemd-notify` is then killed). Idempotent.
   */
  async close(): Promise<void> {
    clearInterval(this.#watchdog);
    await this.#socket.close(CLOSE_GRACE_MS);
  }

  #finished(component: string): void {
    this.#draining.delete(component);
    this.#stopping.delete(component);
  }

  /** Every message of the shutdown carries the time left until Corral's own deadline. */
  #send(notification: Notification): void {
    if (notification.STATUS !== undefined) this.#lastStatus = notification.STATUS;
    const deadline = this.#deadline;
    this.#socket.send(
      deadline === undefined
        ? notification
        : { ...notification, EXTEND_TIMEOUT_USEC: String(Math.max(0, deadline - Date.now()) * 1000) },
    );
  }

  #status(): string {
    const busy = [
      ...(this.#draining.size > 0 ? [`draining ${[...this.#draining].join(', ')}`] : []),
      ...(this.#stopping.size > 0 ? [`stopping ${[...this.#stopping].join(', ')}`] : []),
    ];
    if (busy.length > 0) return busy.join('; ');
    if (this.#deadline !== undefined) return this.#shutdownStatus;
    const all = this.#options.status();
    const ready = all.filter((c) => c.state === 'ready' || (c.oneShot && c.state === 'stopped')).length;
    const restarting = all.filter((c) => c.state === 'restarting').map((c) => c.name);
    return [
      ...(this.#drainedOnly ? ['drained, not ready'] : []),
      `${ready}/${all.length} ready`,
      ...(restarting.length > 0 ? [`restarting ${restarting.join(', ')}`] : []),
    ].join('; ');
  }

  #why(reason: StopReason): string {
    switch (reason) {
      case 'requested':
        return 'stop requested';
      case 'failure':
        return `${this.#failed ?? 'a component'} failed`;
      case 'completed':
        return `${this.#completed ?? 'a component'} ended`;
      case 'term-ended':
        return 'leadership ended';
    }
  }
}
