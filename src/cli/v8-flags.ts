import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for the `corral` executable, which spends its life mostly idle after a busy start
 * (issue 3: memory with 100 idle children). bin/corral.js applies them before it imports anything
 * else; the library leaves its host's V8 alone.
 *
 * Why at run time, through `v8.setFlagsFromString`: a shebang's flags do not apply to
 * `node bin/corral.js`, NODE_OPTIONS belongs to the user, and re-executing Corral would double its
 * processes. Only flags that V8 reads each time it uses them can work this way; test/cli/v8-flags.test.ts
 * checks that both of these still take effect. A flag the user set on node's command line or in
 * NODE_OPTIONS is left alone.
 */

/** Flags by which a user sizes the young generation (V8 accepts `_` for `-` in flag names). */
const YOUNG_GENERATION_FLAGS = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;
/** Flags by which a user turns the optimizing compiler on or off. */
const OPTIMIZER_FLAGS = /--(no[-_])?(turbofan|opt)(\s|=|$)/;

/** How long start-up may keep the optimizing compiler off, at most. */
export const OPTIMIZATION_DEFERRAL_MS = 10_000;

function userSet(flags: RegExp, execArgv: readonly string[], nodeOptions: string): boolean {
  return flags.test(`${execArgv.join(' ')} ${nodeOptions}`);
}

/**
 * Keeps V8's young generation at its initial size (two 1 MB semi-spaces on 64-bit) instead of
 * letting start-up grow it to 2 × 16 MB, which V8 gives back only when its memory reducer runs,
 * seconds later. V8 reads the growth factor each time it would grow the young generation, unlike
 * `--max-semi-space-size`, which it reads once, when it creates the heap.
 *
 * Returns whether it set the flag (not when the user sized the young generation).
 */
export function limitYoungGeneration(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  if (userSet(YOUNG_GENERATION_FLAGS, execArgv, nodeOptions)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}

/** Set while the optimizing compiler is deferred: the upper bound's timer. */
let deferral: NodeJS.Timeout | undefined;
/** A process defers once: a later call would turn the compiler off in the middle of a run. */
let deferredOnce = false;

/**
 * Turns V8's optimizing compiler (TurboFan) off until {@link resumeOptimization}, or for
 * {@link OPTIMIZATION_DEFERRAL_MS} at most. Start-up code (module loading, stack validation,
 * spawning) runs once: optimizing it is wasted work, and the compiler's code and its output stay
 * resident for as long as Corral runs, about 5 MB. The interpreter and the baseline compiler still
 * run it. V8 checks the flag each time it considers optimizing a function, so code that becomes
 * hot later (log forwarding) is optimized as usual once this is over.
 *
 * Returns whether it deferred (not when the user set the compiler on or off, nor twice).
 */
export function deferOptimization(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  if (deferredOnce || userSet(OPTIMIZER_FLAGS, execArgv, nodeOptions)) return false;
  deferredOnce = true;
  setFlagsFromString('--no-turbofan');
  // The upper bound, for a start-up that never finishes (a component never ready): unref'd, so it
  // keeps no one waiting.
  deferral = setTimeout(resumeOptimization, OPTIMIZATION_DEFERRAL_MS).unref();
  return true;
}

/**
 * Ends {@link deferOptimization}'s deferral: the CLI calls it once every component is ready.
 * Idempotent; does nothing when nothing was deferred.
 */
export function resumeOptimization(): void {
  if (endDeferral()) setFlagsFromString('--turbofan');
}

/**
 * Turns the optimizing compiler off for good once Corral shuts down. A shutdown runs its code once
 * per component, in one burst: a large stack makes that code hot enough to be compiled on a
 * background thread, which then competes with the stopping processes for the machine's cores
 * (about 7% of a 50-component stop on two cores) and finishes after the code ran. Code already
 * optimized, such as log forwarding, stays optimized.
 *
 * Only where Corral manages the compiler ({@link deferOptimization} took effect): the user's own
 * flags are left alone. Returns whether it turned the compiler off.
 */
export function stopOptimizing(): boolean {
  if (!deferredOnce) return false;
  endDeferral();
  setFlagsFromString('--no-turbofan');
  return true;
}

/** Cancels the deferral's upper bound; returns whether the deferral was still on. */
function endDeferral(): boolean {
  if (deferral === undefined) return false;
  clearTimeout(deferral);
  deferral = undefined;
  return true;
}
