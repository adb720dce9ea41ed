import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Isolation } from '../containment/isolation.js';
import type { EventObserver, ShownEvent } from './funnel.js';

/**
 * A run's last resort, for the third stop signal and for a shutdown whose budget ran out: SIGKILL
 * to every process group the run started (learnt from `process.spawned` events) and to its whole
 * cgroup subtree. Whatever their own timeouts say, nothing may outlive Corral then.
 */
export class KillSwitch implements EventObserver {
  readonly #groups = new Set<number>();

  observe(event: ShownEvent): void {
    if (event.type === 'process.spawned') this.#groups.add(event.pid);
  }

  /** Kills everything at once; `isolation` is the run's, once its layers are up. Never throws. */
  pull(isolation: Isolation | undefined): void {
    for (const pid of this.#groups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    const cgroup = isolation?.cgroupPath;
    if (cgroup) {
      try {
        // cgroup.kill on our parent cgroup kills every component's cgroup below it.
        writeFileSync(join(cgroup, 'cgroup.kill'), '1');
      } catch {
        // No cgroup.kill on this kernel: the process groups above and the watchdog remain.
      }
    }
  }
}
