import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A connection that outlives ordinary request/response traffic, handed to the user's hook when
 * the stop begins so that it can say goodbye in its own protocol (a last server-sent event, a
 * WebSocket close frame). Whatever is still open at the deadline is destroyed.
 */
export type LongLived =
  /** A response with `Content-Type: text/event-stream` (server-sent events), still being written. */
  | { readonly kind: 'event-stream'; readonly request: IncomingMessage; readonly response: ServerResponse }
  /** A connection the server's `upgrade` listeners took over (WebSocket); HTTP no longer sees it. */
  | { readonly kind: 'upgrade'; readonly request: IncomingMessage; readonly socket: Socket };

/** What {@link Connections.destroyAll} cut. */
export interface Cut {
  /** Requests whose response had not ended (event streams not included). */
  readonly requests: number;
  /** Event streams and upgraded connections. */
  readonly longLived: number;
}

/** One accepted TCP connection. */
interface Connection {
  /** The accepted TCP socket: closed last, and what `close` of the server waits for. */
  readonly tcp: Socket;
  /** The socket HTTP runs on: `tcp` itself, or the TLS socket over it once its handshake is done. */
  http: Socket;
  /** Responses begun on it and not yet ended, oldest first (pipelined requests queue here). */
  readonly responses: Set<ServerResponse>;
  /** Set once `upgrade` listeners took the connection over: only the user's code knows its end. */
  upgrade?: IncomingMessage;
}

/**
 * Every connection of one HTTP(S) server, from the moment it is accepted until its socket closes,
 * with the responses in flight on each, so that a stop can tell idle connections from busy ones,
 * close each busy one right after its last response, and count what it cut at the deadline.
 *
 * Why not `server.closeIdleConnections()` alone: Node's own list knows nothing of a connection
 * before it sent a request, nor of upgraded ones, nor of TLS handshakes in progress; it cannot
 * close a connection as its last response ends (a busy keep-alive connection would linger for
 * `keepAliveTimeout` after it), and it cannot say how many requests a destroy cut.
 */
export class Connections {
  readonly #server: Server;
  /** Keyed by the TCP socket and, once known, by the HTTP socket too (the same for plain HTTP). */
  readonly #bySocket = new Map<Duplex, Connection>();
  /** Connections waiting for their TLS handshake, by remote address and port (the TCP identity). */
  readonly #handshaking = new Map<string, Connection>();
  /** Set by {@link closeAfterResponses}: every response says `Connection: close`, and idle ones close. */
  #closing = false;
  #count = 0;
  /** Responses whose `Connection: close` header is ours, not the application's. */
  readonly #marked = new WeakSet<ServerResponse>();
  readonly #detach: Array<() => void> = [];

  /** Starts tracking; call before the server accepts anything. */
  constructor(server: Server) {
    this.#server = server;
    // Prepended, so that a response is marked before the user's handler can send its headers.
    this.#listen('connection', (socket: Socket) => this.#accepted(socket));
    this.#listen('secureConnection', (socket: Socket) => this.#secured(socket));
    this.#listen('request', (req: IncomingMessage, res: ServerResponse) => this.#request(req, res));
    this.#trackUpgrades();
  }

  /** Open connections (TCP sockets not yet closed). */
  get size(): number {
    return this.#count;
  }

  /**
   * From now on every response says `Connection: close` and each connection is closed as its last
   * response ends; idle connections are closed at once. A response already in flight gets the
   * header too if its headers are not sent yet. Idempotent.
   */
  closeAfterResponses(): void {
    this.#closing = true;
    for (const connection of this.#connections()) {
      const last = [...connection.responses].at(-1);
      if (last) this.#markLast(connection, last);
      this.#closeIfIdle(connection);
    }
  }

  /** Open connections that are not long-lived: what a drain waits for. */
  get busy(): number {
    return this.#count - this.longLived().length;
  }

  /** The event streams and upgraded connections open now. */
  longLived(): LongLived[] {
    const found: LongLived[] = [];
    for (const connection of this.#connections()) {
      if (connection.upgrade)
        found.push({ kind: 'upgrade', request: connection.upgrade, socket: connection.http });
      for (const response of connection.responses) {
        if (isEventStream(response)) found.push({ kind: 'event-stream', request: response.req, response });
      }
    }
    return found;
  }

  /** Destroys every connection left, whatever it is doing, and says what that cut. */
  destroyAll(): Cut {
    let requests = 0;
    let longLived = 0;
    for (const connection of this.#connections()) {
      if (connection.upgrade) longLived++;
      for (const response of connection.responses) {
        if (isEventStream(response)) longLived++;
        else requests++;
      }
      connection.http.destroy();
      connection.tcp.destroy();
    }
    return { requests, longLived };
  }

  /** Stops tracking: removes every listener this added to the server. */
  detach(): void {
    for (const remove of this.#detach.splice(0)) remove();
  }

  // The server's events are not typed by name on net.Server: each listener states its own types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #listen(event: string, listener: (...args: any[]) => void): void {
    this.#server.prependListener(event, listener);
    this.#detach.push(() => this.#server.off(event, listener));
  }

  /**
   * An `upgrade` listener of ours would change what Node does: with none, Node answers an upgrade
   * request as an ordinary request. So ours is there only while the user has one of their own.
   */
  #trackUpgrades(): void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex): void => {
      const connection = this.#bySocket.get(socket);
      if (connection) connection.upgrade = req;
    };
    const sync = (): void => {
      const theirs = this.#server.listeners('upgrade').filter((l) => l !== onUpgrade).length;
      const ours = this.#server.listeners('upgrade').includes(onUpgrade);
      if (theirs > 0 && !ours) this.#server.prependListener('upgrade', onUpgrade);
      if (theirs === 0 && ours) this.#server.off('upgrade', onUpgrade);
    };
    // Checked after the change: 'newListener' comes before the listener is added.
    const onChange = (event: string | symbol): void => {
      if (event === 'upgrade') queueMicrotask(sync);
    };
    sync();
    this.#server.on('newListener', onChange);
    this.#server.on('removeListener', onChange);
    this.#detach.push(() => {
      this.#server.off('newListener', onChange);
      this.#server.off('removeListener', onChange);
      this.#server.off('upgrade', onUpgrade);
    });
  }

  /** A snapshot, so that closing connections while going through them is safe. */
  #connections(): Connection[] {
    return [...this.#bySocket].filter(([socket, c]) => socket === c.tcp).map(([, c]) => c);
  }

  #accepted(tcp: Socket): void {
    const connection: Connection = { tcp, http: tcp, responses: new Set() };
    this.#bySocket.set(tcp, connection);
    this.#count++;
    const key = tcpIdentity(tcp);
    if (key !== undefined) this.#handshaking.set(key, connection);
    tcp.once('close', () => {
      this.#bySocket.delete(tcp);
      this.#bySocket.delete(connection.http);
      if (key !== undefined) this.#handshaking.delete(key);
      this.#count--;
    });
  }

  /** A TLS handshake completed: requests now come on the TLS socket over the TCP one. */
  #secured(tls: Socket): void {
    const key = tcpIdentity(tls);
    const connection = key === undefined ? undefined : this.#handshaking.get(key);
    if (!connection || key === undefined) return;
    this.#handshaking.delete(key);
    connection.http = tls;
    this.#bySocket.set(tls, connection);
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const connection = this.#bySocket.get(req.socket);
    if (!connection) return;
    if (this.#closing) this.#markLast(connection, res);
    connection.responses.add(res);
    // 'close' comes once the response has ended or its connection was lost, whichever is first.
    res.once('close', () => {
      connection.responses.delete(res);
      if (this.#closing) this.#closeIfIdle(connection);
    });
  }

  /**
   * Makes `last` the response that says `Connection: close`, and no earlier one whose headers are
   * not sent yet: Node closes the socket after a response that says close, and would drop a
   * pipelined request queued behind it unanswered.
   */
  #markLast(connection: Connection, last: ServerResponse): void {
    for (const earlier of connection.responses) {
      if (earlier !== last && !earlier.headersSent && this.#marked.delete(earlier))
        earlier.removeHeader('connection');
    }
    if (!last.headersSent) {
      last.setHeader('connection', 'close');
      this.#marked.add(last);
    }
  }

  /**
   * Closes a connection with nothing in flight. Ended rather than destroyed: the last response may
   * still sit in the socket's buffer, and a destroy would throw it away.
   */
  #closeIfIdle(connection: Connection): void {
    if (connection.responses.size > 0 || connection.upgrade) return;
    connection.http.destroySoon();
  }
}

/** A response still being written whose body is a server-sent event stream. */
function isEventStream(response: ServerResponse): boolean {
  const type = response.getHeader('content-type');
  if (typeof type === 'string') return /^text\/event-stream\b/i.test(type);
  // Headers given to `writeHead` alone (no `setHeader` before) are not kept where `getHeader`
  // looks, only in the header block Node sent.
  const sent: unknown = Reflect.get(response, '_header');
  return typeof sent === 'string' && /^content-type:[ \t]*text\/event-stream\b/im.test(sent);
}

/** The remote end of a TCP connection, which the TLS socket over it shares. */
function tcpIdentity(socket: Socket): string | undefined {
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) return undefined;
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
