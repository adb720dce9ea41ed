/**
 * A small HTTP service as a Corral component, written the graceful way: ready once it listens;
 * asked to stop, it stops accepting, closes its idle keep-alive connections at once, lets requests
 * in flight finish (each connection closes after its response), and resolves only once every
 * connection is closed. `greeter.test.ts` checks exactly that with `checkGraceful`.
 */
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// In your project: from 'corral'.
import type { Component } from '../../src/index.js';

export interface Greeter extends Component {
  /** The port it listens on, once it is ready. */
  readonly port: number;
}

export function greeter(options: { host?: string; port?: number } = {}): Greeter {
  let server: Server | undefined;
  return {
    name: 'greeter',
    get port() {
      return (server?.address() as AddressInfo | null)?.port ?? 0;
    },
    async run(signal, ctx) {
      let stopping = false;
      const inFlight = new Set<ServerResponse>();
      server = createServer((request, response) => {
        inFlight.add(response);
        response.on('close', () => inFlight.delete(response));
        // Once stopping, every answer closes its connection after it has been sent.
        if (stopping) response.setHeader('Connection', 'close');
        // A slow answer (`/?ms=300`) stands in for real work; the stop lets it finish.
        const ms = Number(new URL(request.url ?? '/', 'http://localhost').searchParams.get('ms') ?? 0);
        setTimeout(() => response.end(`hello after ${ms}ms\n`), ms);
      });
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
      await once(server, 'listening');
      ctx.ready();
      await once(signal, 'abort');
      stopping = true;
      for (const response of inFlight) if (!response.headersSent) response.setHeader('Connection', 'close');
      const closed = once(server, 'close');
      // Stops accepting and closes the idle keep-alive connections; resolves once the last is closed.
      server.close();
      await closed;
    },
  };
}
