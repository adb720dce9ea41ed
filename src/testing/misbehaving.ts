import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import type { Component, ComponentContext } from '../core/component.js';
import { afterTurns } from './event-loop.js';

/**
 * A component that breaks one rule of gracefulness on purpose: a negative control, to see that a
 * check catches what it should (each makes {@link checkGraceful} fail with its own code).
 */
export interface MisbehavingComponent extends Component {
  /**
   * Frees whatever it still holds: ends a run that hangs, clears a timer, closes sockets, kills a
   * child process. Resolves once all of it is gone, so nothing keeps the test process alive or
   * spills into the next test. Idempotent; call it after every test that used the component.
   */
  release(): Promise<void>;
}

/** Builds a fixture: `run` registers what `release` must undo through `hold`. */
function fixture(
  name: string,
  run: (
    signal: AbortSignal,
    ctx: ComponentContext,
    hold: (release: () => void | Promise<void>) => void,
  ) => Promise<void>,
): MisbehavingComponent {
  const held: (() => Promise<void>)[] = [];
  const hold = (release: () => void | Promise<void>): void => {
    held.push(async () => release());
  };
  return {
    name,
    run: (signal, ctx) => run(signal, ctx, hold),
    async release() {
      await Promise.all(held.splice(0).map((release) => release()));
      // The handles just closed are gone from the process only after their close callbacks ran.
      await afterTurns();
    },
  };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : once(signal, 'abort').then(() => undefined);
}

/** Misbehaving fixture components, one rule broken by each; see {@link MisbehavingComponent}. */
export const misbehaving = {
  /** Ready at once; never looks at its signal and runs until released (`IGNORES_STOP`). */
  ignoresStop(name = 'ignores-stop'): MisbehavingComponent {
    return fixture(name, (_signal, ctx, hold) => {
      ctx.ready();
      return new Promise<void>((resolve) => hold(resolve));
    });
  },

  /** Ready at once; when asked to stop, takes `stopMs` to finish (`STOP_TIMEOUT`). */
  stopsSlowly(name = 'stops-slowly', stopMs = 60_000): MisbehavingComponent {
    return fixture(name, async (signal, ctx, hold) => {
      ctx.ready();
      await aborted(signal);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, stopMs);
        hold(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
  },

  /** `run` throws before returning a promise (`FAILED_TO_START`). */
  throwsSynchronously(name = 'throws-synchronously'): MisbehavingComponent {
    return {
      name,
      run(): Promise<void> {
        throw new Error('thrown synchronously by run');
      },
      release: () => Promise.resolve(),
    };
  },

  /** Stops when asked, but never becomes ready (`NOT_READY`). */
  neverReady(name = 'never-ready'): MisbehavingComponent {
    return fixture(name, (signal) => aborted(signal));
  },

  /** Ready at once; rejects with an error of its own when asked to stop (`REJECTED_ON_STOP`). */
  rejectsOnStop(name = 'rejects-on-stop'): MisbehavingComponent {
    return fixture(name, async (signal, ctx) => {
      ctx.ready();
      await aborted(signal);
      throw new Error('failed while stopping');
    });
  },

  /**
   * Ready at once; when asked to stop, resolves at once while the rest of its work (a timer of
   * `workMs`) is still going (`SETTLED_EARLY`).
   */
  settlesEarly(name = 'settles-early', workMs = 50): MisbehavingComponent {
    return fixture(name, async (signal, ctx, hold) => {
      ctx.ready();
      await aborted(signal);
      const work = setTimeout(() => undefined, workMs);
      hold(() => clearTimeout(work));
    });
  },

  /** Ready at once; stops without clearing the interval timer it started (`LEAKED_HANDLES`). */
  leaksTimer(name = 'leaks-timer'): MisbehavingComponent {
    return fixture(name, async (signal, ctx, hold) => {
      const timer = setInterval(() => undefined, 1_000);
      hold(() => clearInterval(timer));
      ctx.ready();
      await aborted(signal);
    });
  },

  /**
   * Listens on a loopback port and connects to itself; when asked to stop it closes the listener
   * but leaves the connection open, both ends (`LEAKED_HANDLES`).
   */
  leaksSocket(name = 'leaks-socket'): MisbehavingComponent {
    return fixture(name, async (signal, ctx, hold) => {
      const sockets = new Set<Socket>();
      const server = createServer((socket) => sockets.add(socket));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const closed = once(server, 'close');
      hold(async () => {
        for (const socket of sockets) socket.destroy();
        server.close();
        await closed;
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const client = createConnection(port, '127.0.0.1');
      sockets.add(client);
      await once(client, 'connect');
      ctx.ready();
      await aborted(signal);
      server.close();
    });
  },

  /**
   * Starts a child process (a Node that idles), unref'd so that only its entry in /proc shows it,
   * and stops without stopping the child (`LEAKED_HANDLES`).
   */
  leaksChildProcess(name = 'leaks-child-process'): MisbehavingComponent {
    return fixture(name, async (signal, ctx, hold) => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
      const exited = once(child, 'exit');
      hold(async () => {
        child.ref();
        child.kill('SIGKILL');
        await exited;
      });
      child.unref();
      await once(child, 'spawn');
      ctx.ready();
      await aborted(signal);
    });
  },
};
