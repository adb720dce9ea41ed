/**
 * Exit codes: 0 clean, 1 a component failed, the shutdown budget ran out or Corral's stdout or
 * stderr was closed, 2 nothing could be started (usage, stack file, a missing binary, an endpoint
 * address in use, set-up failed). `corral status`: 3 when the stack is not ready.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notReady: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
