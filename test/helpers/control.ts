import type { StatusReport } from '../../src/control/status-board.js';
import { runCorral } from './cli.js';
import { waitUntil } from './process.js';

/** Black-box helpers for the control commands: ask a running `corral` over its socket. */

/** `corral <args> --socket <socket>`, to its end. */
export function ctl(socket: string, ...args: string[]) {
  return runCorral([...args, '--socket', socket]);
}

/** `corral status --json`: the report and the exit code; undefined report while nothing answers. */
export async function status(
  socket: string,
): Promise<{ code: number | null; report: StatusReport | undefined }> {
  const { code, stdout } = await ctl(socket, 'status', '--json');
  return { code, report: stdout.startsWith('{') ? (JSON.parse(stdout) as StatusReport) : undefined };
}

export const row = (report: StatusReport | undefined, name: string) =>
  report?.components.find((c) => c.name === name);

/** Waits until `corral status` answers and `match` holds for its report; returns that report. */
export async function statusWhen(
  socket: string,
  match: (report: StatusReport, code: number | null) => boolean,
  what: string,
): Promise<{ code: number | null; report: StatusReport }> {
  let last: { code: number | null; report: StatusReport | undefined } | undefined;
  await waitUntil(
    async () => {
      last = await status(socket);
      return last.report !== undefined && match(last.report, last.code);
    },
    `${what}; last status: ${JSON.stringify(last)}`,
    20_000,
  );
  return last as { code: number | null; report: StatusReport };
}
