// `corral/postgres`: leader election on PostgreSQL. Apart from the main entry point because it
// loads `pg` and with it Node's network, TLS and crypto stacks.
export { PostgresElector } from './elector.js';
export type { PostgresElectorOptions } from './options.js';
export { LeaderConfigError, LeadershipLostError, SessionLostError } from './errors.js';
export type { LeadershipLoss } from './errors.js';
