import { CorralError } from '../core/errors.js';
import { formatHostPort, type HostPort } from '../util/address.js';

/**
 * An HTTP server of `corral/http` could not listen on its address (in use, not ours, no
 * permission): `httpServer`'s run rejects with it, `healthServer` too. `component` names the
 * component, and is undefined for the health server.
 */
export class HttpListenError extends CorralError<'HTTP_LISTEN_FAILED'> {
  readonly address: HostPort;
  readonly component: string | undefined;

  constructor(address: HostPort, component: string | undefined, cause: NodeJS.ErrnoException) {
    const who = component === undefined ? 'health server' : `component \`${component}\``;
    const why = cause.code === 'EADDRINUSE' ? 'the address is already in use' : cause.message;
    super('HTTP_LISTEN_FAILED', `${who}: cannot listen on ${formatHostPort(address)}: ${why}`, { cause });
    this.address = address;
    this.component = component;
  }
}

/** An option of `httpServer` or `healthServer` is invalid; raised when the component is built. */
export class HttpOptionsError extends CorralError<'HTTP_INVALID_OPTIONS'> {
  /** The option at fault, e.g. `address`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('HTTP_INVALID_OPTIONS', `${option}: ${message}`);
    this.option = option;
  }
}
