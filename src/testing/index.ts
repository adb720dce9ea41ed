// `corral/testing`: helpers for testing code that uses Corral, without real time or real services.
export { ManualClock } from './manual-clock.js';
export { ScriptedComponent } from './scripted-component.js';
export type { ScriptedOptions } from './scripted-component.js';
export { recordEvents } from './record-events.js';
