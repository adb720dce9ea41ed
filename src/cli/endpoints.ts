import type { Registry } from 'prom-client';
import type { Manager } from '../core/manager.js';
import { healthHandler } from '../http/health.js';
import { answer, isGet, serveProbes, type Endpoint } from '../http/probe-server.js';
import type { HostPort } from '../util/address.js';
import { EndpointBindError } from './endpoint-bind-error.js';

export type { Endpoint } from '../http/probe-server.js';

/**
 * `GET /ready` (200 READY or 503 NOT_READY / TERMINATING, TERMINATING also while `terminating()`
 * says so) and `GET /live`, answered by the library's health handler; any other path is 404.
 * Rejects with an {@link EndpointBindError} naming `readiness.address` when the address cannot
 * be bound.
 */
export function serveReadiness(
  address: HostPort,
  manager: Manager,
  terminating: () => boolean,
): Promise<Endpoint> {
  const handler = healthHandler(manager, { terminating });
  return serve('readiness.address', address, (req, res) => handler(req, res));
}

/**
 * `GET /metrics` in the Prometheus text format; any other path is 404. Rejects with an
 * {@link EndpointBindError} naming `metrics.address` when the address cannot be bound.
 */
export function serveMetrics(address: HostPort, registry: Registry): Promise<Endpoint> {
  return serve('metrics.address', address, (req, res) => {
    if (!isGet(req, '/metrics')) {
      answer(res, 404, 'not found');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      () => res.writeHead(500).end(),
    );
  });
}

async function serve(field: string, address: HostPort, handler: Parameters<typeof serveProbes>[1]) {
  try {
    return await serveProbes(address, handler);
  } catch (error) {
    throw new EndpointBindError(field, address, error as NodeJS.ErrnoException);
  }
}
