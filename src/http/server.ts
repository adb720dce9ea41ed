import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Component, ComponentContext } from '../core/component.js';
import { describe, formatMs } from '../core/errors.js';
import { runDrain } from '../drain/drain.js';
import type { HostPort } from '../util/address.js';
import { Connections, type Cut, type LongLived } from './connections.js';
import { HttpListenError } from './errors.js';
import { addressOption, listen } from './listen.js';

export interface HttpServerOptions {
  /** The component's name, unique within its manager. */
  readonly name: string;
  /**
   * A `node:http` or `node:https` server, not listening: the component listens. Express:
   * `createServer(app)`; Koa: `createServer(app.callback())`; Fastify: `fastify.server` (after
   * `await fastify.ready()`, without `fastify.listen`).
   */
  readonly server: HttpServer | HttpsServer;
  /**
   * Where to listen: `host:port` or a {@link HostPort}; port 0 takes a free port (see
   * {@link HttpServerComponent.address}). There is no default host, so write the one you mean:
   * `127.0.0.1:8080` for this machine only, `0.0.0.0:8080` for every interface.
   */
  readonly address: string | HostPort;
  readonly dependsOn?: readonly string[];
  /** See {@link Component.leader}. */
  readonly leader?: boolean;
  /**
   * How long requests in flight (and long-lived connections) get after the stop begins. Then
   * every connection left is destroyed, and a `warning` event (`HTTP_REQUESTS_CUT`) says how
   * many requests that cut.
   * @default 10_000
   */
  readonly closeTimeout?: number;
  /**
   * The component's stop timeout (see {@link Component.stopTimeout}); after `closeTimeout` the
   * component needs only the moment its destroyed sockets take to close.
   * @default closeTimeout + 1_000
   */
  readonly stopTimeout?: number;
  /**
   * Bounds of a drain (`manager.drain()`, the CLI's SIGUSR2, and a graceful shutdown's drain
   * phase): it lasts at least `min` and at most `timeout` milliseconds, and ends as soon as no
   * connection other than long-lived ones is open. A `min` gives load balancers time to notice
   * that the service is no longer ready while it still serves.
   * @default { min: 0, timeout: closeTimeout }
   */
  readonly drain?: { readonly min?: number; readonly timeout?: number };
  /**
   * Called once for each event stream and upgraded connection open when the stop begins, so it
   * can end it in its own protocol (a last event, a WebSocket close frame); what is still open
   * at `closeTimeout` is destroyed. Without it they are simply destroyed then. Must not throw
   * (a throw is reported as a warning).
   */
  readonly onLongLived?: (connection: LongLived) => void;
}

/** A component serving HTTP; see {@link httpServer}. */
export interface HttpServerComponent extends Component {
  /** The address listened on (the real port when 0 was asked for); undefined while not listening. */
  readonly address: HostPort | undefined;
}

/** A `warning` event an HTTP server component emits when its close deadline destroyed connections. */
export type RequestsCutWarning = {
  readonly type: 'warning';
  readonly code: 'HTTP_REQUESTS_CUT';
  readonly component: string;
  readonly message: string;
  /** Connections destroyed at the deadline. */
  readonly connections: number;
  /** Requests among them whose response had not ended (event streams not included). */
  readonly requests: number;
  /** Event streams and upgraded connections among them. */
  readonly longLived: number;
};

/**
 * Serves HTTP with a server of the user's, as a component:
 * - it listens on `address` and is ready once listening; an address it cannot bind fails the
 *   component with {@link HttpListenError} naming the address;
 * - on stop it stops accepting, closes idle keep-alive connections at once, lets requests in
 *   flight finish (their responses say `Connection: close`), closes each connection as its last
 *   response ends, hands long-lived connections to `onLongLived`, and at `closeTimeout` destroys
 *   what is left and reports what that cut; `run` resolves once every socket is closed;
 * - on drain it keeps serving, but every response says `Connection: close` and idle connections
 *   are closed, so that clients move elsewhere; the manager turns readiness off meanwhile.
 * Throws {@link HttpOptionsError} at once when `address` is not an address.
 */
export function httpServer(options: HttpServerOptions): HttpServerComponent {
  const address = addressOption(options.address);
  const closeTimeout = options.closeTimeout ?? 10_000;
  const { name, server } = options;
  /** The current run's connections; undefined between runs. */
  let connections: Connections | undefined;
  let bound: HostPort | undefined;

  const warn = (ctx: ComponentContext, code: string, message: string): void =>
    ctx.emit({ type: 'warning', code, component: name, message: `component \`${name}\`: ${message}` });

  return {
    name,
    ...(options.dependsOn && { dependsOn: options.dependsOn }),
    ...(options.leader !== undefined && { leader: options.leader }),
    stopTimeout: options.stopTimeout ?? closeTimeout + 1_000,
    get address() {
      return bound;
    },

    async run(signal, ctx) {
      const current = (connections = new Connections(server));
      // After listening, an error is a failed accept (out of file descriptors, say): it costs that
      // one connection, not the server.
      const onError = (error: Error): void => warn(ctx, 'HTTP_SERVER_ERROR', describe(error));
      try {
        try {
          bound = await listen(server, address);
        } catch (error) {
          throw new HttpListenError(address, name, error as NodeJS.ErrnoException);
        }
        server.on('error', onError);
        ctx.ready();
        if (!signal.aborted) await once(signal, 'abort');
        await stop(current, ctx);
      } finally {
        server.off('error', onError);
        current.detach();
        connections = undefined;
        bound = undefined;
      }
    },

    async drain(signal, ctx) {
      const current = connections;
      if (!current) return;
      await runDrain(
        {
          trigger: () => {
            current.closeAfterResponses();
            return Promise.resolve();
          },
          // Long-lived connections never end by themselves: the stop hands them to their hook.
          connections: () => Promise.resolve(current.busy),
          min: options.drain?.min ?? 0,
          timeout: options.drain?.timeout ?? closeTimeout,
        },
        // The count is a read of our own bookkeeping, not a request: polling it often costs nothing.
        { clock: ctx.clock, signal, interval: 10, warn: (w) => warn(ctx, w.code, w.message) },
      );
    },
  };

  /** The stop, in order; resolves once the server and every socket are closed. */
  async function stop(current: Connections, ctx: ComponentContext): Promise<void> {
    // Node's close stops accepting, and calls back only once every connection it counts (TCP
    // sockets, upgraded ones included) has closed: that is when the component has finished.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    current.closeAfterResponses();
    for (const connection of current.longLived()) {
      try {
        options.onLongLived?.(connection);
      } catch (error) {
        warn(ctx, 'HTTP_LONG_LIVED_HOOK_FAILED', `onLongLived threw: ${describe(error)}`);
      }
    }
    const done = new AbortController();
    const deadline = ctx.clock.sleep(closeTimeout, done.signal).then(
      () => true,
      () => false,
    );
    try {
      if (await Promise.race([closed.then(() => false), deadline])) {
        report(ctx, current.size, current.destroyAll());
        await closed;
      }
    } finally {
      done.abort();
    }
  }

  function report(ctx: ComponentContext, destroyed: number, cut: Cut): void {
    const message =
      `destroyed ${plural(destroyed, 'connection')} at its ${formatMs(closeTimeout)} close deadline: ` +
      `${plural(cut.requests, 'request')} cut, ${plural(cut.longLived, 'long-lived connection')} closed`;
    const event: RequestsCutWarning = {
      type: 'warning',
      code: 'HTTP_REQUESTS_CUT',
      component: name,
      message: `component \`${name}\` ${message}`,
      connections: destroyed,
      ...cut,
    };
    ctx.emit(event);
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
