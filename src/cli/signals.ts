/** What the CLI does for each signal it handles; see {@link handleSignals}. */
export interface SignalActions {
  /** First SIGTERM or SIGINT (or SIGHUP, see {@link handleSignals}): readiness off, drain, stop in reverse order. */
  shutdown(signal: NodeJS.Signals): void;
  /** Second: skip whatever is left of the draining and stop now. */
  hurry(signal: NodeJS.Signals): void;
  /** Third: SIGKILL everything at once and exit 1. */
  kill(signal: NodeJS.Signals): void;
  /** SIGUSR2: drain every drainable component without stopping (kuma-dp's drain-forever). */
  drain(): void;
  /** SIGHUP before any stop signal, unless SIGHUP stops: re-read the stack file. */
  reload(): void;
}

/** What SIGHUP does: `reload` the stack file, or `stop` as SIGTERM does. */
export type SighupAction = 'reload' | 'stop';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Escalates with each stop signal, counting SIGTERM and SIGINT together (an operator who presses
 * Ctrl-C after systemd sent SIGTERM means "faster"). SIGHUP reloads (`sighup: 'stop'`: counts as
 * a stop signal); once a stop has begun it counts as one either way, since there is nothing left
 * to reload, and a third distinct signal is what lets a third stop signal through (the kernel
 * merges a pending one with its repeat). Installing the handlers also stops Node's default of
 * dying on these signals, which would orphan every child. Handlers are removed when `signal` aborts.
 */
export function handleSignals(
  actions: SignalActions,
  signal: AbortSignal,
  sighup: SighupAction = 'reload',
): void {
  let received = 0;
  const onStop = (name: NodeJS.Signals): void => {
    received++;
    if (received === 1) actions.shutdown(name);
    else if (received === 2) actions.hurry(name);
    else actions.kill(name);
  };
  const onHangUp = (name: NodeJS.Signals): void => {
    if (sighup === 'stop' || received > 0) onStop(name);
    else actions.reload();
  };
  const onDrain = (): void => actions.drain();
  for (const name of STOP_SIGNALS) process.on(name, onStop);
  process.on('SIGHUP', onHangUp);
  process.on('SIGUSR2', onDrain);
  const uninstall = (): void => {
    for (const name of STOP_SIGNALS) process.off(name, onStop);
    process.off('SIGHUP', onHangUp);
    process.off('SIGUSR2', onDrain);
  };
  signal.addEventListener('abort', uninstall, { once: true });
}
