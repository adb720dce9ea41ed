import { CorralError } from '../core/errors.js';

/**
 * The drain could not be started: the drain signal could not be sent or the drain call failed.
 * Messages never contain URL credentials, queries or header values (see `redactUrl` in util/redact.ts).
 */
export class DrainTriggerError extends CorralError<'DRAIN_TRIGGER_FAILED'> {
  constructor(message: string) {
    super('DRAIN_TRIGGER_FAILED', message);
  }
}

/** A connections probe did not produce a count: no answer, a bad status, or output that is not a number. */
export class ConnectionsProbeError extends CorralError<'DRAIN_PROBE_FAILED'> {
  constructor(message: string) {
    super('DRAIN_PROBE_FAILED', message);
  }
}
