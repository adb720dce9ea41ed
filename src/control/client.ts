import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import {
  ControlClientError,
  ControlError,
  PROTOCOL_VERSION,
  type ControlErrorCode,
  type LogLine,
  type Request,
} from './protocol.js';

/** A request as the client writes it: the protocol's fields, before the run fills in defaults. */
export type Outgoing = { readonly cmd: Request['cmd'] } & Readonly<Record<string, unknown>>;

/**
 * Sends one request to the run serving `socketPath` and resolves to the final reply's result;
 * lines streamed ahead of it go to `onLine`. Rejects with {@link ControlError} (the run's own
 * code and message) when the run refused or failed, and with {@link ControlClientError} when it
 * could not be asked. `signal` closes the connection (a `logs -f` that is interrupted) and
 * resolves to undefined.
 */
export function ask(
  socketPath: string,
  request: Outgoing,
  onLine?: (line: LogLine) => void,
  signal?: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      finish();
    };
    const onAbort = (): void => settle(() => resolve(undefined));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    socket.on('error', (error: NodeJS.ErrnoException) => {
      settle(() => reject(connectionError(socketPath, error)));
    });
    socket.on('close', () => {
      settle(() =>
        reject(
          new ControlClientError(
            'CONNECTION_LOST',
            `the run at ${socketPath} closed the connection before answering`,
          ),
        ),
      );
    });
    socket.on('connect', () => {
      socket.write(`${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, ...request })}\n`);
    });
    const replies = createInterface({ input: socket, crlfDelay: Infinity });
    // The socket's own listener reports its errors; readline would re-raise them as unhandled.
    replies.on('error', () => undefined);
    replies.on('line', (text) => {
      let reply: Record<string, unknown>;
      try {
        reply = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if ('line' in reply) {
        onLine?.(reply.line as LogLine);
      } else if (reply.ok === true) {
        settle(() => resolve(reply.result));
      } else if (reply.ok === false) {
        const error = reply.error as { code?: string; message?: string } | undefined;
        settle(() =>
          reject(
            new ControlError(
              (error?.code ?? 'FAILED') as ControlErrorCode,
              error?.message ?? 'the run failed',
            ),
          ),
        );
      }
    });
  });
}

function connectionError(socketPath: string, error: NodeJS.ErrnoException): ControlClientError {
  switch (error.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ControlClientError('NOT_RUNNING', `no corral run serves ${socketPath}`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new ControlClientError(
        'ACCESS_DENIED',
        `permission denied on ${socketPath}: only the user who started the run may control it`,
        { cause: error },
      );
    default:
      return new ControlClientError('CONNECTION_LOST', `cannot reach ${socketPath}: ${error.message}`, {
        cause: error,
      });
  }
}
