import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { CorralError } from '../core/errors.js';

/**
 * Finding a component's binary, in kuma-dp's order: the configured path (or the name on PATH),
 * then `./<name>` in the working directory, then next to the `corral` executable. A missing
 * binary fails before anything starts and names every place looked, so a typo in a stack file
 * never surfaces as a child that died with status 127 half-way through a start-up.
 */

/** Where to look, besides the name itself. */
export interface LookupOptions {
  /**
   * The child's working directory: relative paths and `./<name>` are resolved against it.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * The PATH to search, as the child will see it.
   * @default process.env.PATH
   */
  readonly path?: string;
  /**
   * The `corral` executable; its directory and that directory's `bin` are searched last. Symlinks
   * are followed too, so a globally installed `corral` finds binaries shipped beside its package.
   * @default process.argv[1]
   */
  readonly corralPath?: string;
}

/** One place looked, and what was there. */
export interface LookupCandidate {
  readonly path: string;
  /** `missing`: nothing there; `not-executable`: a file without an execute bit, or a directory. */
  readonly found: 'missing' | 'not-executable';
}

/**
 * No usable binary. `code` is `BINARY_NOT_FOUND`, or `BINARY_NOT_EXECUTABLE` when something was
 * found but cannot be run. `exitStatus` follows the shell: 127 not found, 126 not executable.
 */
export class BinaryLookupError extends CorralError<'BINARY_NOT_FOUND' | 'BINARY_NOT_EXECUTABLE'> {
  readonly component: string | undefined;
  readonly binary: string;
  /** Every place looked, in order. */
  readonly searched: readonly LookupCandidate[];
  readonly exitStatus: 126 | 127;

  constructor(binary: string, searched: readonly LookupCandidate[], component?: string) {
    const notExecutable = searched.filter((c) => c.found === 'not-executable');
    const code = notExecutable.length ? 'BINARY_NOT_EXECUTABLE' : 'BINARY_NOT_FOUND';
    const who = component === undefined ? '' : `component \`${component}\`: `;
    const what = notExecutable.length
      ? `binary \`${binary}\` is not executable (${notExecutable.map((c) => c.path).join(', ')})`
      : `binary \`${binary}\` not found`;
    super(code, `${who}${what}; looked in ${searched.map((c) => c.path).join(', ')}`);
    this.component = component;
    this.binary = binary;
    this.searched = searched;
    this.exitStatus = notExecutable.length ? 126 : 127;
  }
}

/**
 * Resolves `binary` to an absolute path of an executable file, or rejects with a
 * {@link BinaryLookupError} listing every candidate. Never starts anything.
 */
export async function lookupBinary(
  binary: string,
  options: LookupOptions = {},
  component?: string,
): Promise<string> {
  const searched: LookupCandidate[] = [];
  for (const candidate of await candidates(binary, options)) {
    const found = await check(candidate);
    if (found === 'executable') return candidate;
    searched.push({ path: candidate, found });
  }
  throw new BinaryLookupError(binary, searched, component);
}

/** The places to look, in order, without duplicates. */
async function candidates(binary: string, options: LookupOptions): Promise<string[]> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const name = binary.slice(binary.lastIndexOf('/') + 1);
  const list: string[] = [];
  if (binary.includes('/')) {
    // A path, absolute or relative to the child's working directory: used as given, as a shell would.
    list.push(isAbsolute(binary) ? binary : resolve(cwd, binary));
  } else {
    // An empty PATH entry means the current directory, as in every shell.
    for (const dir of (options.path ?? process.env.PATH ?? '').split(delimiter)) {
      list.push(resolve(cwd, dir, name));
    }
  }
  list.push(join(cwd, name));
  const corral = options.corralPath ?? process.argv[1];
  if (corral !== undefined && corral !== '') {
    const dirs = [dirname(resolve(corral))];
    const real = await realpath(corral).catch(() => undefined);
    if (real !== undefined) dirs.push(dirname(real));
    for (const dir of dirs) list.push(join(dir, name), join(dir, 'bin', name));
  }
  return [...new Set(list)];
}

async function check(path: string): Promise<'executable' | LookupCandidate['found']> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return 'missing';
  // access(X_OK) alone accepts directories, and for root any file with one execute bit.
  if (!info.isFile()) return 'not-executable';
  return access(path, constants.X_OK).then(
    () => 'executable' as const,
    () => 'not-executable' as const,
  );
}

/** What {@link checkBinaries} needs to know about one component. */
export interface BinarySpec extends LookupOptions {
  readonly component: string;
  readonly binary: string;
}

/**
 * Several components' binaries could not be found; `failures` has one error per component.
 * A single failure is thrown as its own {@link BinaryLookupError} instead.
 */
export class PreflightError extends CorralError<'PREFLIGHT_FAILED'> {
  readonly failures: readonly BinaryLookupError[];

  constructor(failures: readonly BinaryLookupError[]) {
    super('PREFLIGHT_FAILED', failures.map((f) => f.message).join('\n'));
    this.failures = failures;
  }
}

/**
 * The pre-flight check the CLI runs for every component before starting any: resolves every
 * binary, and rejects with every failure at once (a {@link BinaryLookupError} for one, a
 * {@link PreflightError} for several). Resolves to each component's absolute path.
 */
export async function checkBinaries(specs: readonly BinarySpec[]): Promise<Map<string, string>> {
  const results = await Promise.allSettled(
    specs.map((spec) => lookupBinary(spec.binary, spec, spec.component)),
  );
  const resolved = new Map<string, string>();
  const failures: BinaryLookupError[] = [];
  for (const [i, result] of results.entries()) {
    const component = specs[i]?.component ?? '';
    if (result.status === 'fulfilled') resolved.set(component, result.value);
    else if (result.reason instanceof BinaryLookupError) failures.push(result.reason);
    else throw result.reason as Error;
  }
  const [first] = failures;
  if (first && failures.length === 1) throw first;
  if (failures.length > 1) throw new PreflightError(failures);
  return resolved;
}
