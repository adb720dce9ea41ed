import { setTimeout as delay } from 'node:timers/promises';
import { describe, formatMs } from '../core/errors.js';
import type { WarningEvent } from '../core/events.js';
import { runHelperCommand } from '../process/helper-command.js';
import { SYSTEM_DIRS, systemTool } from '../util/system-tools.js';

/**
 * The sd_notify protocol's sending side: each notification is one datagram of `VAR=VALUE` lines
 * on the AF_UNIX datagram socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract
 * namespace).
 *
 * Node has no Unix datagram sockets, so each notification is handed to the host's own
 * `systemd-notify VAR=VALUE…`, found in the system directories: it is installed wherever systemd
 * runs, speaks exactly the protocol of the systemd it comes with (abstract sockets included), and
 * needs no compiler, unlike the npm packages that wrap the syscalls in a native addon. Two of its
 * habits make a short-lived sender dependable: it sends the message on behalf of its parent, so
 * that as root the message carries Corral's pid; and it waits (a barrier) until the service
 * manager has processed the message, so that systemd can still attribute it to the unit by the
 * sender's cgroup when the sender is not Corral (a non-root Corral: hence `NotifyAccess=all`).
 *
 * Sends run one after the other, in the order asked, each through the helper-command layers (no
 * shell, its own process group, a parent-death signal) and bounded by a timeout. A send that fails
 * never stops or delays the run: the first failure is reported as a warning, later ones silently.
 */

/** One notification: sd_notify fields (`READY`, `STATUS`, …) with their values, sent as one datagram. */
export type Notification = Readonly<Record<string, string>>;

/** How long one `systemd-notify` may take; its own barrier gives up after 5 s. */
const SEND_TIMEOUT_MS = 10_000;

/**
 * Fields that only say how things are now: a notification made only of these, still waiting to be
 * sent, is brought up to date by the next such one instead of queueing behind it. `READY` and
 * `STOPPING` mark moments and are never merged.
 */
const LATEST_ONLY: ReadonlySet<string> = new Set(['STATUS', 'EXTEND_TIMEOUT_USEC', 'WATCHDOG']);

export interface NotifySocketOptions {
  /** `NOTIFY_SOCKET`: an absolute path, or `@` and the name of an abstract socket. */
  readonly address: string;
  /** Told the first failure to send. */
  readonly onWarning: (warning: WarningEvent) => void;
}

/** Sends notifications to the service manager, in order; see the module doc. */
export class NotifySocket {
  readonly #address: string;
  readonly #onWarning: NotifySocketOptions['onWarning'];
  readonly #tool = systemTool('systemd-notify');
  /** Waiting to be sent, oldest first; the one being sent is no longer here. */
  readonly #queue: Record<string, string>[] = [];
  /** Settles when the queue is empty; undefined while nothing is being sent. */
  #sending: Promise<void> | undefined;
  /** Aborted by `close`: kills a send still running and drops what is queued. */
  readonly #closed = new AbortController();
  #warned = false;

  constructor(options: NotifySocketOptions) {
    this.#address = options.address;
    this.#onWarning = options.onWarning;
  }

  /** Queues `notification` after every earlier one. Never throws; does nothing once closed. */
  send(notification: Notification): void {
    if (this.#closed.signal.aborted) return;
    const last = this.#queue.at(-1);
    if (last && latestOnly(last) && latestOnly(notification)) Object.assign(last, notification);
    else this.#queue.push({ ...notification });
    this.#sending ??= this.#drain();
  }

  /**
   * Resolves once everything queued has been sent, or after `graceMs`, whichever comes first; then
   * a send still running is killed and the rest dropped. Idempotent.
   */
  async close(graceMs: number): Promise<void> {
    if (this.#sending) {
      const timer = new AbortController();
      await Promise.race([
        this.#sending,
        delay(graceMs, undefined, { signal: timer.signal }).catch(() => {}),
      ]);
      timer.abort();
    }
    this.#closed.abort();
    this.#queue.length = 0;
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) await this.#deliver(next);
    this.#sending = undefined;
  }

  async #deliver(notification: Notification): Promise<void> {
    if (this.#tool === undefined) {
      this.#fail(`\`systemd-notify\` is not installed in ${SYSTEM_DIRS.join(', ')}`);
      return;
    }
    // A value is one line of the datagram: a newline in it would start a field of its own.
    const fields = Object.entries(notification).map(
      ([name, value]) => `${name}=${value.replace(/\n/g, ' ')}`,
    );
    const timeout = AbortSignal.timeout(SEND_TIMEOUT_MS);
    try {
      const result = await runHelperCommand([this.#tool, ...fields], {
        signal: AbortSignal.any([this.#closed.signal, timeout]),
        // Nothing of Corral's environment but the socket.
        env: { NOTIFY_SOCKET: this.#address },
        stderrTail: 300,
      });
      if (result.exitCode !== 0) {
        const how = result.signal ?? `exit code ${String(result.exitCode)}`;
        this.#fail(`systemd-notify failed (${how})${result.stderr ? `: ${result.stderr.trim()}` : ''}`);
      }
    } catch (error) {
      if (this.#closed.signal.aborted) return;
      this.#fail(
        timeout.aborted
          ? `systemd-notify did not finish within ${formatMs(SEND_TIMEOUT_MS)}`
          : describe(error),
      );
    }
  }

  #fail(why: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#onWarning({
      type: 'warning',
      code: 'SYSTEMD_NOTIFY_FAILED',
      message: `could not notify systemd on ${this.#address} (${why}); the run goes on, later failures are not reported`,
    });
  }
}

function latestOnly(notification: Notification): boolean {
  return Object.keys(notification).every((name) => LATEST_ONLY.has(name));
}
