import { once } from 'node:events';
import { chmod, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  ControlError,
  errorReply,
  MAX_REQUEST_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  type LogLine,
  type Reply,
  type Request,
} from './protocol.js';
import { ControlSocketError, privateSocketDir } from './socket-path.js';

/**
 * Carries out one request. `send` streams lines ahead of the final reply (the `logs` command);
 * `closed` aborts when the client goes away or the server closes. Resolves to the final reply's
 * `result`; rejects with what the final reply reports.
 */
export type ControlHandler = (
  request: Request,
  send: (line: LogLine) => void,
  closed: AbortSignal,
) => Promise<unknown>;

/**
 * A client that does not read what it is sent (a stalled `corral logs -f`) is dropped once this
 * much waits for it, so that it cannot make the run's memory grow.
 */
const MAX_PENDING_REPLY_BYTES = 4 * 1024 * 1024;

/**
 * The run's control socket (see protocol.ts): a Unix socket of mode 0600 in a directory of mode
 * 0700 ({@link privateSocketDir}), never TCP. Requests are carried out as they come, several at a
 * time; a request that cannot be read is answered with an error, never a crash.
 */
export class ControlServer {
  readonly path: string;
  /** The socket's directory, when this server made it: removed at close, if it is empty then. */
  readonly madeDir: string | undefined;
  readonly #server: Server;
  /** Every open connection, each with the controller its requests' `closed` hangs off. */
  readonly #connections = new Map<Socket, AbortController>();

  private constructor(path: string, server: Server, madeDir: string | undefined) {
    this.path = path;
    this.#server = server;
    this.madeDir = madeDir;
  }

  /**
   * Serves `handler` on `path`. Replaces a socket file no run answers on (one left by a run that was
   * killed); rejects with {@link ControlSocketError} when another run serves `path`, or when its
   * directory is not private.
   */
  static async listen(path: string, handler: ControlHandler): Promise<ControlServer> {
    const { created } = await privateSocketDir(path);
    const server = createServer();
    const control = new ControlServer(path, server, created ? dirname(path) : undefined);
    server.on('connection', (socket) => control.#serve(socket, handler));
    try {
      await listenOn(server, path);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
      if (await answers(path)) {
        throw new ControlSocketError(
          'CONTROL_SOCKET_IN_USE',
          `control socket ${path} is in use by another corral run`,
        );
      }
      await unlink(path);
      await listenOn(server, path);
    }
    // The directory keeps everyone else out already; the socket's own mode says the same.
    await chmod(path, 0o600);
    // Serving must not keep Corral alive: the run's end closes it.
    server.unref();
    return control;
  }

  /**
   * Stops serving: closes every connection (an idle client, a follower of the logs) at once, and
   * removes the socket file, and its directory when the server made it and it is empty. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    for (const [socket, controller] of this.#connections) {
      controller.abort();
      socket.destroy();
    }
    this.#connections.clear();
    await closed;
    // Node removes the file when the server closes; a file still there is not ours to complain about.
    await unlink(this.path).catch(() => undefined);
    if (this.madeDir !== undefined) await rmdir(this.madeDir).catch(() => undefined);
  }

  #serve(socket: Socket, handler: ControlHandler): void {
    const controller = new AbortController();
    this.#connections.set(socket, controller);
    socket.on('error', () => {
      // The client went away: nothing to tell it.
    });
    socket.on('close', () => {
      controller.abort();
      this.#connections.delete(socket);
    });
    const write = (reply: Reply): void => {
      if (socket.destroyed) return;
      if (socket.writableLength > MAX_PENDING_REPLY_BYTES) {
        socket.destroy();
        return;
      }
      socket.write(`${JSON.stringify(reply)}\n`);
    };
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() !== '') this.#handle(line, handler, write, controller.signal);
        newline = pending.indexOf('\n');
      }
      if (Buffer.byteLength(pending) > MAX_REQUEST_BYTES) {
        pending = '';
        const error = new ControlError(
          'REQUEST_TOO_LARGE',
          `a request must fit in ${MAX_REQUEST_BYTES} bytes`,
        );
        write(errorReply(null, error));
        socket.end();
      }
    });
  }

  #handle(line: string, handler: ControlHandler, write: (reply: Reply) => void, closed: AbortSignal): void {
    if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) {
      const error = new ControlError('REQUEST_TOO_LARGE', `a request must fit in ${MAX_REQUEST_BYTES} bytes`);
      write(errorReply(null, error));
      return;
    }
    const parsed = parseRequest(line);
    const { id } = parsed;
    if ('error' in parsed) {
      write(errorReply(id, parsed.error));
      return;
    }
    const send = (logLine: LogLine): void => write({ v: PROTOCOL_VERSION, id, line: logLine });
    // A handler that throws synchronously is answered like one that rejects.
    Promise.resolve()
      .then(() => handler(parsed.request, send, closed))
      .then(
        (result) => write({ v: PROTOCOL_VERSION, id, ok: true, result: result ?? null }),
        (error: unknown) => write(errorReply(id, error)),
      );
  }
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Whether a run serves `path`: a stale socket file refuses the connection. */
async function answers(path: string): Promise<boolean> {
  const socket = connect(path);
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}
