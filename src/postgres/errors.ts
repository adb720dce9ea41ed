import { CorralError } from '../core/errors.js';

/** The elector's options cannot work; raised by the constructor, before anything connects. */
export class LeaderConfigError extends CorralError<'LEADER_CONFIG_INVALID'> {
  /** The option at fault, e.g. `renewDeadline`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('LEADER_CONFIG_INVALID', `leader election option \`${option}\`: ${message}`);
    this.option = option;
  }
}

/** The ways a term can end early. */
export type LeadershipLoss = 'LEADER_SESSION_LOST' | 'LEADER_DEADLINE_PASSED' | 'LEADER_LEASE_LOST';

/**
 * Why a term ended early; it is the term signal's `reason`, and its code is also the code of the
 * `warning` event announcing it.
 * - `LEADER_SESSION_LOST`: the database session ended; followers may take over after the grace.
 * - `LEADER_DEADLINE_PASSED`: no renewal succeeded within `renewDeadline` (stall, network cut).
 * - `LEADER_LEASE_LOST`: a renewal found the lease taken over (timings or clocks are off).
 */
export class LeadershipLostError extends CorralError<LeadershipLoss> {
  readonly election: string;
  readonly term: number;

  constructor(code: LeadershipLoss, election: string, term: number, message: string) {
    super(code, message);
    this.election = election;
    this.term = term;
  }
}

/** The database session is gone (or was closed because a query overran its time). */
export class SessionLostError extends CorralError<'LEADER_SESSION_LOST'> {
  constructor(message: string, options?: ErrorOptions) {
    super('LEADER_SESSION_LOST', message, options);
  }
}
