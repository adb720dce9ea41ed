import { ask } from '../control/client.js';
import type { LogLine } from '../control/protocol.js';
import type { StatusReport, StatusRow } from '../control/status-board.js';
import { formatMs } from '../core/errors.js';
import { EXIT } from './exit.js';

/**
 * The client side of the control commands (`status`, `stop`, `start`, `restart`, `reload`,
 * `logs`): each asks the run serving the socket, prints the answer, and resolves to the exit code.
 * A run that cannot be asked, or that refuses, is said on stderr (exit 1).
 */

/** Writes to a stream and resolves once the OS took it. */
export type Print = (stream: NodeJS.WriteStream, text: string) => Promise<void>;

/** `corral status`: the table (or `--json`); exit 0 when the stack is ready, 3 otherwise. */
export async function statusCommand(socket: string, json: boolean, print: Print): Promise<number> {
  const report = (await ask(socket, { cmd: 'status' })) as StatusReport;
  await print(process.stdout, json ? `${JSON.stringify(report)}\n` : statusTable(report, Date.now()));
  return report.ready ? EXIT.ok : EXIT.notReady;
}

/** The table `corral status` prints: one row per component, then the stack's readiness. */
export function statusTable(report: StatusReport, now: number): string {
  const header = ['NAME', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'READY', 'LAST EXIT', 'TERM'];
  const rows = report.components.map((row) => [
    row.name,
    row.state,
    row.pid === undefined ? '-' : String(row.pid),
    row.startedAt === undefined ? '-' : formatMs(Math.max(0, now - row.startedAt)),
    String(row.restarts),
    row.ready ? (row.oneShot && row.state === 'stopped' ? 'done' : 'yes') : 'no',
    lastExit(row),
    row.term === undefined ? '-' : String(row.term),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const stack = report.ready ? 'ready' : `not ready (${report.phase})`;
  return `${[line(header), ...rows.map(line)].join('\n')}\n\nstack: ${stack}\n`;
}

function lastExit(row: StatusRow): string {
  const exit = row.lastExit;
  if (!exit) return '-';
  return exit.signal === null ? `exit ${exit.exitCode ?? '?'}` : `killed by ${exit.signal}`;
}

/** `corral stop|start|restart [NAME…]` and `corral reload`: resolves once the run has done it. */
export async function changeCommand(
  socket: string,
  cmd: 'stop' | 'start' | 'restart' | 'reload',
  names: readonly string[],
  print: Print,
): Promise<number> {
  const result = await ask(socket, cmd === 'reload' ? { cmd } : { cmd, names });
  if (typeof result === 'string') await print(process.stdout, `${result}\n`);
  return EXIT.ok;
}

/**
 * `corral logs [NAME…] [-n N] [-f]`: the last N lines of each component, then (`-f`) everything
 * new until interrupted or the run ends, as the run wrote it (prefixed, or JSON records).
 */
export async function logsCommand(
  socket: string,
  options: { names: readonly string[]; lines: number; follow: boolean },
  print: Print,
): Promise<number> {
  // Printed in order, each write after the one before it was taken.
  let printing = Promise.resolve();
  const onLine = (line: LogLine): void => {
    printing = printing.then(() => print(process.stdout, line.text));
  };
  const interrupted = new AbortController();
  const onSignal = (): void => interrupted.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await ask(socket, { cmd: 'logs', ...options }, onLine, interrupted.signal);
  } catch (error) {
    // Following ends when the run does: that is the end of its logs, not an error.
    if (!(options.follow && (error as { code?: unknown }).code === 'CONNECTION_LOST')) throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await printing;
  return EXIT.ok;
}
