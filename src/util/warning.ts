/**
 * A problem reported without failing: a drain probe that did not answer, an Envoy older than
 * supported, a bootstrap naming another admin address. What a `warning` event says, before
 * whoever emits it adds the component it concerns.
 */
export interface Warning {
  /** Stable, for machines: `DRAIN_PROBE_FAILED`, `ENVOY_ADMIN_MISMATCH`, or the code of the error behind it. */
  readonly code: string;
  readonly message: string;
}
