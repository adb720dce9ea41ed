/**
 * How a run is asked to stop, and what `/ready` says meanwhile. Stop signals, a closed stdout and a
 * lost watchdog all stop the stack the same graceful way; the last two make the run a failure.
 */
export class StopControl {
  readonly #controller = new AbortController();
  #terminating = false;
  #failed = false;

  /** Aborts once a stop is asked for: the manager's run signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether `/ready` should answer TERMINATING: a stop was asked for, or everything drains. */
  get terminating(): boolean {
    return this.#terminating;
  }

  /** Whether the stop was asked for because something failed: the run then exits 1. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Not ready from now on, without stopping anything (SIGUSR2's drain). */
  announce(): void {
    this.#terminating = true;
  }

  /** Stops the stack gracefully, as a first SIGTERM does. Idempotent; a failure sticks. */
  stop(options: { failed?: boolean } = {}): void {
    this.#terminating = true;
    if (options.failed) this.#failed = true;
    this.#controller.abort();
  }
}
