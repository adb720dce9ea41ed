import { fileURLToPath } from 'node:url';
import type { WarningEvent } from '../core/events.js';

/**
 * Corral's init (`bin/corral-init`, a POSIX shell script): PID 1 that runs one command as its
 * child, reaps every orphan, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it,
 * and exits with its status (128+n when signal n killed it). Run as `/bin/sh INIT_SCRIPT argv…`.
 *
 * Two places make it PID 1: `bin/corral`, the launcher, which execs it when `corral` starts as
 * PID 1 (a container's entrypoint), and the PID namespace of isolation mode (./namespace.ts).
 */
export const INIT_SCRIPT = fileURLToPath(new URL('../../bin/corral-init', import.meta.url));

/** Set by the init in its child's environment: the init's pid (1). */
export const INIT_ENV = 'CORRAL_INIT';

/** Set to anything non-empty, `corral` started as PID 1 runs without the init (Node is PID 1). */
export const NO_INIT_ENV = 'CORRAL_NO_INIT';

/**
 * Where this process stands in its PID namespace: `init` when its parent is Corral's init as
 * PID 1, `self` when it is PID 1 itself (no init: orphans stay zombies), `below` otherwise (a
 * shell, systemd, tini or a container runtime's init is PID 1 and reaps).
 */
export type PidOnePlace = 'init' | 'self' | 'below';

/**
 * Finds {@link PidOnePlace} and removes {@link INIT_ENV} from `env`, so that no component (a
 * nested `corral`, say) inherits a marker that describes its parent's place, not its own.
 */
export function takePidOnePlace(
  env: NodeJS.ProcessEnv = process.env,
  pid = process.pid,
  ppid = process.ppid,
): PidOnePlace {
  const initPid = env[INIT_ENV];
  Reflect.deleteProperty(env, INIT_ENV);
  if (pid === 1) return 'self';
  return initPid === '1' && ppid === 1 ? 'init' : 'below';
}

/** The warning for Corral as PID 1 without its init, when the launcher could not run it. */
export function noInitWarning(env: NodeJS.ProcessEnv = process.env): WarningEvent {
  const why = env[NO_INIT_ENV] ? `${NO_INIT_ENV} is set` : 'it was started as `node …/corral.js`';
  return {
    type: 'warning',
    code: 'PID1_WITHOUT_INIT',
    message:
      `Corral is PID 1 without its init (${why}): processes orphaned by components stay zombies, ` +
      'and Node as PID 1 gets no signal it has no handler for; start it as `corral`, or under tini',
  };
}
