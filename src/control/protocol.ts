import { z } from 'zod';
import { CorralError } from '../core/errors.js';

/**
 * The control protocol: line-delimited JSON over the run's Unix socket, versioned by `v`. A client
 * sends one request per line, `{"v":1,"id":…,"cmd":…,…}`; the run answers each with lines carrying
 * the same `id`: any number of `{"v":1,"id":…,"line":{component,text}}` (the `logs` command's
 * output), then one
 * final `{"v":1,"id":…,"ok":true,"result":…}` or `{"v":1,"id":…,"ok":false,"error":{code,message}}`.
 * A request that cannot be read gets a final error with `id` null; the connection stays usable,
 * except after an oversized line, which closes it.
 */

export const PROTOCOL_VERSION = 1;

/** The longest request line the run reads; a longer one is answered with an error and closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

const names = z.array(z.string().min(1).max(256)).max(1024);

/** Every request the run understands; unknown fields are ignored, unknown commands refused. */
export const requestSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('status') }),
  /** `names` empty: the whole stack, gracefully, like the first SIGTERM. */
  z.object({ cmd: z.literal('stop'), names: names.default([]) }),
  z.object({ cmd: z.literal('start'), names: names.min(1) }),
  z.object({ cmd: z.literal('restart'), names: names.min(1) }),
  z.object({ cmd: z.literal('reload') }),
  /** `names` empty: every component. `lines`: how many recent lines per component first. */
  z.object({
    cmd: z.literal('logs'),
    names: names.default([]),
    lines: z.number().int().min(0).max(100_000).default(100),
    follow: z.boolean().default(false),
  }),
]);

export type Request = z.infer<typeof requestSchema>;
export type Command = Request['cmd'];

/** A request's id: what the client chose, echoed on every reply line. */
export type RequestId = string | number | null;

/** Error codes a final reply can carry. */
export type ControlErrorCode =
  | 'BAD_REQUEST'
  | 'UNSUPPORTED_VERSION'
  | 'REQUEST_TOO_LARGE'
  | 'UNKNOWN_COMPONENT'
  | 'STACK_INVALID'
  | 'STACK_UNREADABLE'
  | 'SHUTTING_DOWN'
  | 'FAILED';

/** A request the run refused or could not carry out; sent as the final reply's `error`. */
export class ControlError extends CorralError<ControlErrorCode> {}

/**
 * A client could not ask the run: nothing serves the socket (`NOT_RUNNING`), this user may not
 * reach it (`ACCESS_DENIED`), or the connection ended before the answer (`CONNECTION_LOST`).
 */
export class ControlClientError extends CorralError<'NOT_RUNNING' | 'ACCESS_DENIED' | 'CONNECTION_LOST'> {}

/**
 * A piece of a component's output, as the `logs` command sends it: one or more whole lines, as
 * the run wrote them (prefixed with the component's name, or JSON records, as the run's format is).
 */
export interface LogLine {
  readonly component: string;
  readonly text: string;
}

/** One line of a reply. */
export type Reply =
  | { readonly v: 1; readonly id: RequestId; readonly line: LogLine }
  | { readonly v: 1; readonly id: RequestId; readonly ok: true; readonly result: unknown }
  | {
      readonly v: 1;
      readonly id: RequestId;
      readonly ok: false;
      readonly error: { readonly code: string; readonly message: string };
    };

/**
 * Reads one request line: the request and its id, or the error to answer (with whatever id could
 * be read). Never throws.
 */
export function parseRequest(
  line: string,
): { id: RequestId; request: Request } | { id: RequestId; error: ControlError } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: new ControlError('BAD_REQUEST', 'the request is not JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: null, error: new ControlError('BAD_REQUEST', 'the request is not a JSON object') };
  }
  const fields = value as Record<string, unknown>;
  const id = typeof fields.id === 'string' || typeof fields.id === 'number' ? fields.id : null;
  if (fields.v !== PROTOCOL_VERSION) {
    return {
      id,
      error: new ControlError(
        'UNSUPPORTED_VERSION',
        `unsupported protocol version ${JSON.stringify(fields.v ?? null)}; this run speaks ${PROTOCOL_VERSION}`,
      ),
    };
  }
  const parsed = requestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    return { id, error: new ControlError('BAD_REQUEST', `${where}${issue?.message ?? 'invalid request'}`) };
  }
  return { id, request: parsed.data };
}

/** The final reply for `error`: its code when it has one Corral knows, else FAILED. */
export function errorReply(id: RequestId, error: unknown): Reply {
  const code =
    error instanceof CorralError && typeof error.code === 'string' ? error.code : ('FAILED' as const);
  const message = error instanceof Error ? error.message : String(error);
  return { v: PROTOCOL_VERSION, id, ok: false, error: { code, message } };
}
