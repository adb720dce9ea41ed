import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Manager } from '../core/manager.js';
import type { HostPort } from '../util/address.js';
import { HttpListenError } from './errors.js';
import { addressOption } from './listen.js';
import { StuckComponents } from './liveness.js';
import { answer, isGet, serveProbes, type Endpoint } from './probe-server.js';
import { readinessOf } from './readiness.js';

export interface HealthOptions {
  /**
   * Also answer TERMINATING while this returns true: for a stop or drain the manager does not
   * know of yet (the CLI's signals). @default () => false
   */
  readonly terminating?: () => boolean;
}

/**
 * A request handler for `manager`'s health, to mount on a server of one's own (as a plain
 * `request` listener, or as Express/Connect middleware, also under a prefix):
 * - `GET /ready`: 200 `READY`, or 503 `NOT_READY` (starting, a component not ready) or
 *   `TERMINATING` (shutting down or draining), exactly as `corral run`'s readiness endpoint;
 * - `GET /live`: 200 `LIVE`, or 503 `STUCK` and the names of the components past their stop
 *   timeout that have still not finished. An answer at all shows that the event loop responds;
 *   a blocked loop shows as a probe that times out.
 * HEAD too. Any other request goes to `next` when given, else is answered 404. Build it before
 * the manager stops: it learns of stuck components from the manager's events.
 */
export function healthHandler(
  manager: Manager,
  options: HealthOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: () => void) => void {
  const stuck = new StuckComponents(manager);
  return (req, res, next) => {
    if (isGet(req, '/ready')) {
      const readiness = readinessOf(manager, options.terminating);
      answer(res, readiness === 'READY' ? 200 : 503, readiness);
    } else if (isGet(req, '/live')) {
      const names = stuck.list();
      answer(res, names.length === 0 ? 200 : 503, names.length === 0 ? 'LIVE' : `STUCK ${names.join(' ')}`);
    } else if (next) {
      next();
    } else {
      answer(res, 404, 'not found');
    }
  };
}

export interface HealthServerOptions extends HealthOptions {
  readonly manager: Manager;
  /**
   * `host:port`, a port alone (on 127.0.0.1), or a {@link HostPort}; port 0 takes a free one.
   * Loopback by default: give `0.0.0.0:9902` for a kubelet probing the pod's IP.
   * @default '127.0.0.1:9902'
   */
  readonly address?: string | HostPort;
}

/** A running health server: see {@link healthServer}. */
export type HealthServer = Endpoint;

/**
 * Serves {@link healthHandler} on its own address, with the request limits of `corral run`'s
 * endpoints (a client must send its request within seconds, idle keep-alive ends after 1 s).
 * Not a component: it answers through the whole shutdown, until `close()`, which the caller
 * calls after `manager.run` settled. Rejects with {@link HttpListenError} naming the address
 * when it cannot be bound, and with {@link HttpOptionsError} when `address` is not an address.
 */
export async function healthServer(options: HealthServerOptions): Promise<HealthServer> {
  const address = addressOption(options.address ?? '127.0.0.1:9902', '127.0.0.1');
  const handler = healthHandler(options.manager, options);
  try {
    return await serveProbes(address, (req, res) => handler(req, res));
  } catch (error) {
    throw new HttpListenError(address, undefined, error as NodeJS.ErrnoException);
  }
}
