import type { Logger } from 'pino';
import { describe, formatMs } from '../core/errors.js';
import type { EventListener } from '../core/events.js';
import type { CorralEvent } from '../events.js';

type Level = 'info' | 'warn' | 'error' | 'debug';

/** Which level each event is logged at; everything not listed is `info`. */
const LEVELS: Partial<Record<CorralEvent['type'], Level>> = {
  'component.failed': 'error',
  'component.stop-timeout': 'warn',
  'component.restarting': 'warn',
  'output.dropping': 'error',
  'output.dropped': 'warn',
  'shutdown.stuck': 'error',
  warning: 'warn',
  'shutdown.phase': 'debug',
};

/** The log level an event is rendered at. */
export function eventLevel(event: CorralEvent): Level {
  // The restarts of a crash loop that are not announced are there for whoever asks for detail.
  if (event.type === 'component.restarting' && !event.announce) return 'debug';
  return LEVELS[event.type] ?? 'info';
}

/** One line of prose per event, in the message style of errors.ts. */
export function describeEvent(event: CorralEvent): string {
  switch (event.type) {
    case 'component.starting':
      return `component \`${event.component}\` is starting`;
    case 'component.ready':
      return `component \`${event.component}\` is ready`;
    case 'component.completed':
      return `component \`${event.component}\` finished`;
    case 'component.failed':
      return `component \`${event.component}\` failed: ${describe(event.error)}`;
    case 'component.draining':
      return `component \`${event.component}\` is draining`;
    case 'component.drained':
      return `component \`${event.component}\` ${event.skipped ? 'stopped draining early' : 'drained'} after ${formatMs(event.durationMs)}`;
    case 'component.stopping':
      return `stopping component \`${event.component}\` (${event.reason})`;
    case 'component.stop-timeout':
      return `component \`${event.component}\` has not stopped ${formatMs(event.stoppingForMs)} after it was asked to`;
    case 'component.stopped':
      return `component \`${event.component}\` stopped in ${formatMs(event.durationMs)}`;
    case 'component.restarting':
      return `restarting component \`${event.component}\` in ${formatMs(event.delayMs)} (attempt ${event.attempt}${event.suppressed ? `; ${event.suppressed} more restarts since the last warning` : ''})`;
    case 'process.spawned':
      return `component \`${event.component}\` started pid ${event.pid}`;
    case 'process.exited':
      return `component \`${event.component}\` pid ${event.pid} exited ${event.signal ? `on ${event.signal}` : `with code ${event.exitCode}`}${event.forced ? ' (forced)' : ''}`;
    case 'output.dropping':
      return `${event.component === undefined ? "Corral's own output" : `output of component \`${event.component}\``} could not be written to ${event.destination} (${describe(event.error)}); dropping and counting lines until it can`;
    case 'output.dropped':
      return `${event.lines} ${event.lines === 1 ? 'line' : 'lines'} of ${event.component === undefined ? "Corral's own output" : `component \`${event.component}\``} could not be written to ${event.destination}${event.resumed ? '; writing works again' : ''}`;
    case 'shutdown.started':
      return `shutting down (${event.reason})`;
    case 'shutdown.phase':
      return `shutdown phase: ${event.phase}`;
    case 'shutdown.stuck':
      return `shutdown did not finish within ${formatMs(event.timeoutMs)}; still running: ${event.stuck.map((s) => `\`${s.component}\` (${s.phase})`).join(', ')}`;
    case 'leader.elected':
      return `this replica is the leader (term ${event.term})`;
    case 'leader.lost':
      return `this replica is no longer the leader (term ${event.term})`;
    case 'warning':
      return event.message;
  }
}

/**
 * Renders runtime events as pino log records: the event's fields, its `type` as `event`, and a
 * prose `msg`. An `error` field goes through pino's error serializer (as `err`).
 */
export function pinoEventLogger(logger: Logger): EventListener<CorralEvent> {
  return (event) => {
    const { type, time: _time, ...fields } = event;
    const level = eventLevel(event);
    const record: Record<string, unknown> = { event: type, ...fields };
    if ('error' in record) {
      record.err = record.error;
      delete record.error;
    }
    logger[level](record, describeEvent(event));
  };
}
