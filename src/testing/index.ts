// `corral/testing`: helpers for testing code that uses Corral, without real time or real services,
// and a check that a user's own component is graceful, with misbehaving components as controls.
export { ManualClock } from './manual-clock.js';
export { ScriptedComponent } from './scripted-component.js';
export type { ScriptedOptions } from './scripted-component.js';
export { recordEvents } from './record-events.js';
export { checkGraceful } from './check-graceful.js';
export type { GracefulCheckOptions, GracefulReport } from './check-graceful.js';
export { GracefulCheckError } from './graceful-check-error.js';
export type { GracefulCheckCode } from './graceful-check-error.js';
export type { OpenResources } from './resources.js';
export { misbehaving } from './misbehaving.js';
export type { MisbehavingComponent } from './misbehaving.js';
