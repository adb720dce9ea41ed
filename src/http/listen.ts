import type { Server } from 'node:net';
import { parseHostPort, type HostPort } from '../util/address.js';
import { HttpOptionsError } from './errors.js';

/**
 * Starts `server` listening on `address` and resolves with the address bound (the real port when
 * 0 was asked for). Rejects with the system error (`EADDRINUSE`, `EACCES`…) when it cannot bind;
 * callers wrap it in an error naming their own subject. Leaves no listener of its own behind.
 */
export async function listen(server: Server, address: HostPort): Promise<HostPort> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(address.port, address.host);
  });
  const bound = server.address();
  return { host: address.host, port: typeof bound === 'object' && bound ? bound.port : address.port };
}

/**
 * An address option, as `host:port` text or a {@link HostPort}; port 0 asks for a free port. Text
 * with only a port takes `defaultHost` when one is given. Throws {@link HttpOptionsError} naming
 * the option when it is not an address.
 */
export function addressOption(value: string | HostPort, defaultHost?: string): HostPort {
  if (typeof value !== 'string') return value;
  const parsed = parseHostPort(value, { allowPortZero: true, ...(defaultHost && { defaultHost }) });
  if ('problem' in parsed)
    throw new HttpOptionsError('address', `${JSON.stringify(value)} is ${parsed.problem}`);
  return parsed;
}
