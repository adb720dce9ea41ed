/** What a process component publishes on the manager's hub, besides the core's events. */
export type ProcessEvent =
  /** A process component's child started. */
  | { type: 'process.spawned'; component: string; pid: number; command: readonly string[] }
  /** A process component's process group is empty; how the direct child ended. */
  | {
      type: 'process.exited';
      component: string;
      pid: number;
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      forced: boolean;
      stopDurationMs: number | undefined;
    };
