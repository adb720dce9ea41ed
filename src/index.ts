export type { Clock } from './runtime/clock.js';
export { systemClock, ManualClock } from './runtime/clock.js';
export type {
  Component,
  ComponentContext,
  ComponentOptions,
  DrainMode,
  LeadershipTerm,
} from './runtime/component.js';
export { fromFunction } from './runtime/component.js';
export { Manager, StopRequest } from './runtime/manager.js';
export type { ManagerOptions } from './runtime/manager.js';
export type { ComponentState, ComponentStatus } from './runtime/entry.js';
export { withRestarts } from './runtime/restart.js';
export type { RestartOptions } from './runtime/restart.js';
export { backoffDelay } from './runtime/backoff.js';
export type { BackoffOptions } from './runtime/backoff.js';
export { startWaves } from './runtime/graph.js';
export type {
  CorralEvent,
  CorralEventType,
  StopReason,
  ShutdownPhase,
  EventListener,
} from './runtime/events.js';
export {
  CorralError,
  ComponentFailedError,
  ShutdownTimeoutError,
  InvalidStackError,
  RestartLimitError,
} from './runtime/errors.js';
export type { ComponentFailure, StuckComponent } from './runtime/errors.js';
export type { LeaderElector, Term } from './leader/elector.js';
export { AlwaysLeader } from './leader/elector.js';
export { pinoEventLogger, describeEvent } from './adapters/pino.js';
export { processComponent } from './process/component.js';
export type {
  ProcessOptions,
  ProcessComponent,
  OutputTarget,
  RunningProcess,
  ReadyCheck,
} from './process/component.js';
export { Isolation, defaultIsolation } from './process/isolation.js';
export type { IsolationOptions, Layers } from './process/isolation.js';
export { WatchdogLostError } from './process/watchdog.js';
export type { CommandContainment } from './process/helper-command.js';
export { ProcessExitError, exitStatusOf } from './process/terminate.js';
export type { Termination } from './process/terminate.js';
export { lookupBinary, checkBinaries, BinaryLookupError, PreflightError } from './process/lookup.js';
export { SpawnError } from './process/spawn.js';
export { OutputSink } from './process/output.js';
export type { ReadinessProbe } from './process/probe.js';
export { ProbeTimeoutError } from './process/probe.js';
export { PostgresElector } from './leader/postgres.js';
export type { PostgresElectorOptions } from './leader/postgres.js';
