// `corral`: the runtime and process components. Leader election on PostgreSQL, the Envoy and
// CoreDNS presets, stack files and test helpers have entry points of their own (corral/postgres,
// corral/presets, corral/stack, corral/testing), so that importing this one loads none of them.
export type { Clock } from './core/clock.js';
export { systemClock } from './core/clock.js';
export type {
  Component,
  ComponentContext,
  ComponentOptions,
  DrainMode,
  LeadershipTerm,
} from './core/component.js';
export { fromFunction } from './core/component.js';
export { Manager } from './core/manager.js';
export type { ManagerOptions } from './core/manager.js';
export type { ComponentState, ComponentStatus } from './core/entry.js';
export { withRestarts } from './core/restart.js';
export type { RestartOptions } from './core/restart.js';
export { backoffDelay } from './core/backoff.js';
export type { BackoffOptions } from './core/backoff.js';
export { startWaves } from './core/graph.js';
export type {
  AnyEvent,
  CoreEvent,
  WarningEvent,
  StopReason,
  ComponentStopReason,
  ShutdownPhase,
  EventListener,
} from './core/events.js';
export type { CorralEvent, CorralEventType } from './events.js';
export type { ProcessEvent } from './process/events.js';
export type { OutputEvent } from './output/events.js';
export {
  CorralError,
  ComponentFailedError,
  ShutdownTimeoutError,
  InvalidStackError,
  RestartLimitError,
  StopRequest,
} from './core/errors.js';
export type { ComponentFailure, InvalidStackCode, StuckComponent } from './core/errors.js';
export type { LeaderElector, Term } from './core/leadership.js';
export { AlwaysLeader } from './core/leadership.js';
export { pinoEventLogger, describeEvent } from './adapters/pino.js';
export { processComponent } from './process/component.js';
export type {
  ProcessOptions,
  ProcessComponent,
  OutputTarget,
  RunningProcess,
  ReadyCheck,
} from './process/component.js';
export { Isolation } from './containment/isolation.js';
export type { IsolationOptions, Layers } from './containment/isolation.js';
export { WatchdogLostError } from './containment/watchdog.js';
export type { CommandContainment } from './process/helper-command.js';
export { ProcessExitError, exitStatusOf } from './process/terminate.js';
export type { Termination } from './process/terminate.js';
export { lookupBinary, checkBinaries, BinaryLookupError, PreflightError } from './process/lookup.js';
export { SpawnError } from './process/spawn.js';
export { OutputSink } from './output/forward.js';
export type { ReadinessProbe } from './process/probe/probe.js';
export { ProbeTimeoutError } from './process/probe/probe.js';
export { InvalidProbeError } from './process/probe/spec.js';
export { ProbeCommandError } from './process/probe/checks.js';
export { DrainTriggerError, ConnectionsProbeError } from './drain/errors.js';
export { HttpCallError } from './util/http.js';
export { WorkDirError } from './cli/workdir.js';
export { EndpointBindError } from './cli/endpoint-bind-error.js';
export { ControlClientError, ControlError } from './control/protocol.js';
export { ControlSocketError } from './control/socket-path.js';
