import type { Isolation } from '../containment/isolation.js';
import type { ControlServer } from '../control/server.js';
import type { BuiltStack } from '../stackfile/build.js';
import type { Endpoint } from './endpoints.js';
import type { WorkDir } from './workdir.js';

/**
 * What a run holds, each part set once it is acquired, and let go by {@link release} in the one
 * order that leaves nothing behind.
 */
export class RunResources {
  isolation: Isolation | undefined;
  readonly endpoints: Endpoint[] = [];
  control: ControlServer | undefined;
  workDir: WorkDir | undefined;
  built: BuiltStack | undefined;
  /** What reloads built (their output files). */
  readonly reloaded: BuiltStack[] = [];

  /**
   * Closes the control socket (and every connection to it), the endpoints and the output files, then releases the work dir while the watchdog
   * still runs (were Corral killed in between, the watchdog removes it), and closes the isolation
   * layers last. Each part is let go even when an earlier one failed; the first failure is
   * rethrown at the end.
   */
  async release(): Promise<void> {
    const failures: unknown[] = [];
    const step = async (release: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await release();
      } catch (error) {
        failures.push(error);
      }
    };
    await step(() => this.control?.close());
    await step(() => Promise.all(this.endpoints.map((endpoint) => endpoint.close())));
    await step(() => this.built?.close());
    await step(() => Promise.all(this.reloaded.map((built) => built.close())));
    await step(() => this.workDir?.release());
    await step(() => this.isolation?.close());
    if (failures.length > 0) throw failures[0];
  }
}
