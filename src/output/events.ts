/** What an output sink reports about the lines it could not write. */
export type OutputEvent =
  /**
   * Output of `component` (`undefined`: Corral's own lines) that `destination` (a file's path, or
   * `stdout`) did not take, a full disk for instance: the first lines of an outage. Later lines
   * are tried again one write at a time, and counted while they fail.
   */
  | { type: 'output.dropping'; component: string | undefined; destination: string; error: unknown }
  /**
   * How many lines of `component` were lost during an outage of `destination`: reported when
   * writing works again (`resumed`), or when Corral stops while it still does not.
   */
  | {
      type: 'output.dropped';
      component: string | undefined;
      destination: string;
      lines: number;
      resumed: boolean;
    };
