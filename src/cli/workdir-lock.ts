import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';

/**
 * One run per work dir. The lock is a listening unix socket in Linux's abstract namespace, named
 * after the directory's real path: binding a name is atomic, and the kernel frees it when the
 * process that holds it ends, however it ends (SIGKILL included), so a lock is never left stale and
 * there is no file to clean up. A run that finds the name taken connects to it, and the holder
 * answers with its pid and stack file, for the message.
 *
 * The names live in the network namespace, not the file system: runs in the same network namespace
 * (a host; Corral's own PID namespace keeps the host's network) exclude each other; runs in
 * containers with networks of their own that share a volume do not. Elsewhere than Linux no lock is
 * taken.
 */

/** Who holds a work dir, as the holder told it. */
export interface LockHolder {
  readonly pid: number;
  /** The holder's stack file. */
  readonly stackFile: string;
}

export interface WorkDirLock {
  /** Lets the work dir go; idempotent. (The process ending lets it go too.) */
  release(): Promise<void>;
}

/** How long to wait for a holder to say who it is; a busy one is then just "another run". */
const ASK_TIMEOUT_MS = 2_000;
/** Bounds what a holder's answer may make us read, whoever answers. */
const MAX_ANSWER_BYTES = 4_096;

/**
 * Takes the lock on `realDir` (a resolved, real path) for `self`. Resolves to the lock, or to who
 * holds it: `undefined` when the holder did not answer.
 */
export async function lockWorkDir(
  realDir: string,
  self: LockHolder,
): Promise<{ lock: WorkDirLock } | { heldBy: LockHolder | undefined }> {
  if (process.platform !== 'linux') return { lock: { release: () => Promise.resolve() } };
  const name = lockName(realDir);
  const answer = `${JSON.stringify(self)}\n`;
  const server = createServer((socket) => {
    socket.on('error', () => {
      // The asker went away: nothing to tell.
    });
    socket.end(answer);
  });
  try {
    server.listen(name);
    await once(server, 'listening');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
    return { heldBy: await askHolder(name) };
  }
  // The lock must not keep Corral alive, nor delay its exit.
  server.unref();
  return { lock: { release: () => close(server) } };
}

/** The abstract socket name for a directory (a leading NUL puts it in the abstract namespace). */
function lockName(realDir: string): string {
  return `\0corral/workdir/${createHash('sha256').update(realDir).digest('hex')}`;
}

async function askHolder(name: string): Promise<LockHolder | undefined> {
  const socket = connect(name);
  socket.setTimeout(ASK_TIMEOUT_MS, () => socket.destroy());
  let text = '';
  try {
    for await (const chunk of socket.setEncoding('utf8') as AsyncIterable<string>) {
      text += chunk;
      if (text.length > MAX_ANSWER_BYTES) break;
    }
  } catch {
    // Refused, reset, timed out: the holder is there, but does not say who it is.
  } finally {
    socket.destroy();
  }
  return parseHolder(text);
}

/** Anything can answer on an abstract name: only a well-formed answer is believed, and shown. */
function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder> | null;
    const { pid, stackFile } = value ?? {};
    if (!Number.isSafeInteger(pid) || typeof stackFile !== 'string') return undefined;
    return { pid: pid as number, stackFile: stackFile.replace(/\p{Cc}/gu, '?').slice(0, 1024) };
  } catch {
    return undefined;
  }
}

async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  server.close();
  await once(server, 'close');
}
