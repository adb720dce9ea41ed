import type { Manager } from '../core/manager.js';
import type { LogBuffer } from '../control/log-buffer.js';
import type { ControlHandler } from '../control/server.js';
import type { StatusBoard, StatusReport } from '../control/status-board.js';
import type { LogLine, Request } from '../control/protocol.js';

/** What `corral run` lets its control socket do. */
export interface ControlActions {
  readonly manager: Manager;
  readonly board: StatusBoard;
  readonly logs: LogBuffer;
  /** Whether `/ready` says READY. */
  readonly ready: () => boolean;
  /** Stops the whole stack gracefully, as the first SIGTERM does. */
  readonly stopAll: () => void;
  /**
   * Re-reads the stack file and applies it, in turn (it queues itself, as SIGHUP's does too);
   * rejects, changing nothing, when it is invalid.
   */
  readonly reload: () => Promise<unknown>;
  /** Says what an operator asked for, in the run's own output. */
  readonly say: (message: string) => void;
  /** Runs changes one at a time (see {@link inTurns}), shared with SIGHUP's reload. */
  readonly inTurn: InTurn;
}

/** Runs `change` once every change queued before it has settled; settles as it does. */
export type InTurn = <T>(change: () => Promise<T>) => Promise<T>;

/**
 * A queue of changes to what runs: each waits for the ones before it, so a `restart` never
 * interleaves with a `reload`, whether it came from the socket or a signal.
 */
export function inTurns(): InTurn {
  let queue: Promise<unknown> = Promise.resolve();
  return (change) => {
    const turn = queue.then(change);
    queue = turn.catch(() => undefined);
    return turn;
  };
}

/**
 * The run's side of each control command. Commands that change what runs are carried out one at
 * a time, in the order they came (`actions.inTurn`).
 */
export function controlHandler(actions: ControlActions): ControlHandler {
  const { manager, board, logs, inTurn } = actions;
  const who = (request: { names: readonly string[] }) => request.names.map((n) => `\`${n}\``).join(', ');

  return (request: Request, send, closed) => {
    switch (request.cmd) {
      case 'status':
        return Promise.resolve<StatusReport>({
          ready: actions.ready(),
          phase: manager.phase(),
          components: board.rows(manager.status()),
        });
      case 'stop':
        if (request.names.length === 0) {
          actions.say('control: stop requested; shutting down');
          actions.stopAll();
          return Promise.resolve(null);
        }
        return inTurn(() => {
          actions.say(`control: stopping ${who(request)} and what depends on them`);
          return manager.stopComponents(request.names);
        });
      case 'start':
        return inTurn(() => {
          actions.say(`control: starting ${who(request)}`);
          return manager.startComponents(request.names);
        });
      case 'restart':
        return inTurn(() => {
          actions.say(`control: restarting ${who(request)} and what depends on them`);
          return manager.restartComponents(request.names);
        });
      case 'reload':
        return actions.reload();
      case 'logs':
        return followLogs(logs, request, send, closed);
    }
  };
}

/** Sends the recent lines, then (`follow`) every new one until the client goes away. */
async function followLogs(
  logs: LogBuffer,
  request: Extract<Request, { cmd: 'logs' }>,
  send: (line: LogLine) => void,
  closed: AbortSignal,
): Promise<null> {
  for (const line of logs.recent(request.names, request.lines)) send(line);
  if (!request.follow) return null;
  const unfollow = logs.follow(request.names, send);
  await new Promise<void>((resolve) => {
    if (closed.aborted) resolve();
    closed.addEventListener('abort', () => resolve(), { once: true });
  });
  unfollow();
  return null;
}
