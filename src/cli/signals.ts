/** What the CLI does for each signal it handles; see {@link handleSignals}. */
export interface SignalActions {
  /** First SIGTERM, SIGINT or SIGHUP: readiness off, drain, stop in reverse order. */
  shutdown(signal: NodeJS.Signals): void;
  /** Second: skip whatever is left of the draining and stop now. */
  hurry(signal: NodeJS.Signals): void;
  /** Third: SIGKILL everything at once and exit 1. */
  kill(signal: NodeJS.Signals): void;
  /** SIGUSR2: drain every drainable component without stopping (kuma-dp's drain-forever). */
  drain(): void;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Escalates with each stop signal, counting SIGTERM, SIGINT and SIGHUP together (an operator who
 * presses Ctrl-C after systemd sent SIGTERM means "faster"). Installing the handlers also stops
 * Node's default of dying on these signals, which would orphan every child. Handlers are removed
 * when `signal` aborts.
 */
export function handleSignals(actions: SignalActions, signal: AbortSignal): void {
  let received = 0;
  const onStop = (name: NodeJS.Signals): void => {
    received++;
    if (received === 1) actions.shutdown(name);
    else if (received === 2) actions.hurry(name);
    else actions.kill(name);
  };
  const onDrain = (): void => actions.drain();
  for (const name of STOP_SIGNALS) process.on(name, onStop);
  process.on('SIGUSR2', onDrain);
  const uninstall = (): void => {
    for (const name of STOP_SIGNALS) process.off(name, onStop);
    process.off('SIGUSR2', onDrain);
  };
  signal.addEventListener('abort', uninstall, { once: true });
}
