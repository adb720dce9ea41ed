import { isIP } from 'node:net';

/** A TCP address. `host` is an IP address or a host name, without IPv6 brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface HostPortOptions {
  /** Used when the text gives only a port (`9902` or `:9902`); without it a host is required. */
  readonly defaultHost?: string;
  /** Port 0 asks the OS for a free port: allowed for listening addresses only. */
  readonly allowPortZero?: boolean;
}

/**
 * A host name: dot-separated labels of letters, digits, `-` and `_`, not starting or ending with
 * `-`. The underscore is not in RFC 1123, but resolvers accept it and container platforms name
 * services with it (`app_db`).
 */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/**
 * Parses `host:port`, `[ipv6]:port`, and, with a default host, `:port` or a bare port.
 * Returns why not when the text is not such an address.
 */
export function parseHostPort(text: string, options: HostPortOptions = {}): HostPort | { problem: string } {
  const { defaultHost, allowPortZero = false } = options;
  let host: string;
  let portText: string;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text))
    return { problem: 'a URL; give host:port without a scheme' };
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (isIP(host) !== 6) return { problem: 'the part in brackets is not an IPv6 address' };
  } else if (/^\d+$/.test(text) && defaultHost !== undefined) {
    host = defaultHost;
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return { problem: 'no port (expected host:port)' };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '') {
      if (defaultHost === undefined) return { problem: 'no host (expected host:port)' };
      host = defaultHost;
    } else if (host.includes(':')) {
      return { problem: 'an IPv6 address needs brackets, as in [::1]:9902' };
    } else if (isIP(host) === 0 && !HOST_NAME.test(host)) {
      return { problem: 'the host is neither an IP address nor a host name' };
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return { problem: 'the port is not a number' };
  const port = Number(portText);
  const lowest = allowPortZero ? 0 : 1;
  if (port < lowest || port > 65535) return { problem: `the port must be between ${lowest} and 65535` };
  return { host, port };
}

/** `{ host: '::1', port: 9902 }` → `[::1]:9902`, as users write addresses. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
