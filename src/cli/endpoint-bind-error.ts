import { CorralError } from '../core/errors.js';
import { formatHostPort, type HostPort } from '../util/address.js';

/**
 * The endpoint's address could not be bound (in use, not ours, no permission). Kept apart from
 * the endpoints, so that the package root can export it without loading node:http.
 */
export class EndpointBindError extends CorralError<'ENDPOINT_BIND_FAILED'> {
  /** The stack-file field that gave the address, e.g. `readiness.address`. */
  readonly field: string;
  readonly address: HostPort;

  constructor(field: string, address: HostPort, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'the address is already in use' : cause.message;
    super('ENDPOINT_BIND_FAILED', `${field}: cannot listen on ${formatHostPort(address)}: ${why}`, { cause });
    this.field = field;
    this.address = address;
  }
}
