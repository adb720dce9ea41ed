// `corral/http`: HTTP servers as components, and health endpoints. Apart from the main entry
// point because it loads Node's HTTP server.
export { httpServer } from './server.js';
export type { HttpServerOptions, HttpServerComponent, RequestsCutWarning } from './server.js';
export type { LongLived } from './connections.js';
export { healthHandler, healthServer } from './health.js';
export type { HealthOptions, HealthServerOptions, HealthServer } from './health.js';
export type { Readiness } from './readiness.js';
export { HttpListenError, HttpOptionsError } from './errors.js';
