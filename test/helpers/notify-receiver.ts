import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { session, type Corral, type scratch } from './cli.js';
import { fixture, killPids, waitUntil } from './process.js';

/** One datagram the receiver got: the sender's pid (from its credentials) and its lines. */
export interface Datagram {
  readonly pid: number | null;
  readonly fields: readonly string[];
}

export interface NotifyReceiver {
  /** Every datagram so far, in the order they arrived, without systemd-notify's `BARRIER=1`. */
  datagrams(): Datagram[];
  /** Waits until a datagram has `field` (e.g. `READY=1`). */
  waitFor(field: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real AF_UNIX datagram socket in systemd's place, bound at `address` (a path, or `@name` for
 * the abstract namespace), run by Debian's Python 3 (test/fixtures/notify-receiver).
 */
export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const child = spawn('/usr/bin/python3', [fixture('notify-receiver'), address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const received: Datagram[] = [];
  const state = { listening: false };
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'listening') state.listening = true;
    else received.push(JSON.parse(line) as Datagram);
  });
  const exited = once(child, 'exit');
  const datagrams = (): Datagram[] => received.filter((d) => !d.fields.includes('BARRIER=1'));
  const receiver: NotifyReceiver = {
    datagrams,
    async waitFor(field, timeoutMs = 15_000) {
      await waitUntil(
        () => datagrams().some((d) => d.fields.includes(field)),
        `a datagram with ${field}; got ${JSON.stringify(datagrams())}`,
        timeoutMs,
      );
    },
    async close() {
      killPids([child.pid ?? -1]);
      await exited;
    },
  };
  try {
    await waitUntil(() => state.listening || child.exitCode !== null, 'the receiver listening');
    if (!state.listening) throw new Error(`the receiver exited with ${String(child.exitCode)}`);
  } catch (error) {
    await receiver.close();
    throw error;
  }
  return receiver;
}

/**
 * `corral run -f file` with `NOTIFY_SOCKET=address` (and `env`), a receiver listening there: runs
 * `body` against both, then as {@link session} does requires that nothing is left; closes the receiver.
 */
export async function notifiedRun(
  s: ReturnType<typeof scratch>,
  address: string,
  file: string,
  env: NodeJS.ProcessEnv,
  body: (corral: Corral, receiver: NotifyReceiver) => Promise<void>,
): Promise<void> {
  const receiver = await startNotifyReceiver(address);
  try {
    await session(s, ['run', '-f', file], (corral) => body(corral, receiver), {
      env: { NOTIFY_SOCKET: address, ...env },
    });
  } finally {
    await receiver.close();
  }
}
