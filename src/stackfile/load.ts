import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { fsProblem } from '../util/fs-problem.js';
import { type Redactor, redactUrls } from '../util/redact.js';
import { interpolateDocument, type Environment } from './interpolate.js';
import { StackFileError, type StackIssue } from './error.js';
import { checkDependencies } from './graph.js';
import { formatPath, issueMessage, printable, withSubstitutions, type PathSegments } from './issues.js';
import { stackSchema, type Stack } from './schema.js';
import { MAX_STACK_DEPTH, tooDeepAt } from './yaml-depth.js';
import { collectionKeyOffsets, lineOfPath, pathAtOffset } from './yaml-paths.js';

export { StackFileError, type StackIssue } from './error.js';

export interface ParseStackOptions {
  /** Where `${VAR}` values come from. @default process.env */
  readonly env?: Environment;
  /** The name used in messages, usually the file's path. @default '<stack>' */
  readonly sourceName?: string;
  /** What relative paths in the file are resolved against. @default process.cwd() */
  readonly baseDir?: string;
  /** Learns what `${VAR}` substitution read from `env`, so that whoever prints for the stack hides it. */
  readonly redactor?: Redactor;
}

/** Larger than any sensible stack file; a guard against reading a log file or a device by mistake. */
export const MAX_STACK_FILE_BYTES = 1024 * 1024;

/**
 * Reads and validates a stack file. Relative paths in it are resolved against its directory.
 * Rejects only with {@link StackFileError}.
 */
export async function loadStack(
  path: string,
  options: Omit<ParseStackOptions, 'sourceName' | 'baseDir'> = {},
): Promise<Stack> {
  let text: string;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever, before
    // the check below could refuse it. (A regular file ignores the flag.)
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw unreadable(path, 'not a regular file');
      if (stat.size > MAX_STACK_FILE_BYTES) throw tooLarge(path);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof StackFileError) throw error;
    throw unreadable(path, `cannot read the file: ${fsProblem(error)}`, error);
  }
  return parseStack(text, { ...options, sourceName: path, baseDir: dirname(resolve(path)) });
}

/**
 * Validates stack-file text and returns the normalized stack: durations in ms, defaults applied,
 * kinds resolved, paths absolute, dependencies checked. Throws only {@link StackFileError}.
 */
export function parseStack(text: string, options: ParseStackOptions = {}): Stack {
  const file = options.sourceName ?? '<stack>';
  if (text.length > MAX_STACK_FILE_BYTES) throw tooLarge(file);
  // Before anything that recurses over the document: deep enough, any of it would overflow the stack.
  const tooDeep = tooDeepAt(text);
  if (tooDeep !== undefined) {
    const line = text.slice(0, tooDeep).split('\n').length;
    throw new StackFileError(file, [
      { path: '', line, message: `nested more than ${MAX_STACK_DEPTH} levels deep` },
    ]);
  }
  const lineCounter = new LineCounter();
  // logLevel 'error': yaml's warnings (unresolved tags, collection keys) would go to stderr; the
  // schema reports whatever they lead to.
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
    logLevel: 'error',
  });
  const located = (path: PathSegments, message: string): StackIssue => ({
    path: formatPath(path),
    line: lineOfPath(doc, lineCounter, path),
    message: printable(redactUrls(message)),
  });

  if (doc.errors.length > 0) {
    // A broken document is not validated further: its shape is a guess, and so would the rest be.
    throw new StackFileError(file, unique(doc.errors.map((error) => syntaxIssue(doc, lineCounter, error))));
  }
  const complexKeys = collectionKeyOffsets(doc);
  if (complexKeys.length > 0) {
    throw new StackFileError(
      file,
      complexKeys.map((offset) => ({
        path: formatPath(pathAtOffset(doc, offset)),
        line: lineCounter.linePos(offset).line,
        message: 'a key must be a plain name, not a map or a list',
      })),
    );
  }
  const raw = toJs(doc);
  if ('problem' in raw) throw new StackFileError(file, [wholeFile(raw.problem)]);
  if (raw.value === null || raw.value === undefined) {
    throw new StackFileError(file, [
      wholeFile('the file is empty; it needs at least a "components" section'),
    ]);
  }

  const { document, problems, substituted, secrets } = interpolateDocument(
    raw.value,
    options.env ?? process.env,
  );
  options.redactor?.add(secrets);
  const substitutionFailed = new Set(problems.map((p) => formatPath(p.path)));

  const issues: StackIssue[] = problems.map((p) => located(p.path, p.message));
  // Every message is built inside: that is where substituted values are kept from showing.
  const parsed = withSubstitutions(substituted, () => {
    const result = schemaFor(options.baseDir ?? process.cwd()).safeParse(document, { error: issueMessage });
    for (const issue of result.error?.issues ?? []) {
      if (issue.code === 'unrecognized_keys') {
        // issueMessage wrote one line per key; each becomes an issue at its key.
        const lines = issue.message.split('\n');
        issue.keys.forEach((key, i) => issues.push(located([...issue.path, key], lines[i] ?? 'unknown key')));
      } else if (!substitutionFailed.has(formatPath(issue.path))) {
        // A value whose `${…}` failed is reported once, for the reference, not again for its content.
        issues.push(located(issue.path, issue.message));
      }
    }
    for (const problem of checkDependencies(document)) issues.push(located(problem.path, problem.message));
    return result;
  });

  if (issues.length > 0 || !parsed.success) throw new StackFileError(file, sortByLine(unique(issues)));
  return parsed.data;
}

/**
 * Building the schema costs more than most parses (zod compiles each object), and it depends only on
 * the base directory; a CLI uses one, tests a few.
 */
const schemas = new Map<string, ReturnType<typeof stackSchema>>();

function schemaFor(baseDir: string): ReturnType<typeof stackSchema> {
  let schema = schemas.get(baseDir);
  if (schema === undefined) {
    if (schemas.size >= 16) schemas.clear();
    schema = stackSchema(baseDir);
    schemas.set(baseDir, schema);
  }
  return schema;
}

/** A YAML syntax error, placed by its position; its text is cut at the first `: `, after which yaml quotes the source. */
function syntaxIssue(
  doc: Document,
  lineCounter: LineCounter,
  error: { code: string; message: string; pos: [number, number] },
): StackIssue {
  const path = pathAtOffset(doc, error.pos[0]);
  const last = path[path.length - 1];
  let message = `invalid YAML: ${error.message.split(': ')[0] ?? error.code}`;
  if (error.code === 'DUPLICATE_KEY' && last !== undefined) {
    message = `duplicate key ${JSON.stringify(String(last))}: a key may appear only once in a map`;
  } else if (error.code === 'MULTIPLE_DOCS') {
    message = 'a stack file holds a single YAML document; remove the "---" separator';
  }
  return {
    path: formatPath(path),
    line: lineCounter.linePos(error.pos[0]).line,
    message: printable(message),
  };
}

function toJs(doc: Document): { value: unknown } | { problem: string } {
  try {
    // maxAliasCount bounds "billion laughs" expansion: an alias-heavy document fails here instead of
    // exhausting memory.
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    return {
      problem: `the document cannot be expanded: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

function wholeFile(message: string): StackIssue {
  return { path: '', line: undefined, message };
}

function unreadable(file: string, message: string, cause?: unknown): StackFileError {
  return new StackFileError(file, [wholeFile(message)], { code: 'STACK_UNREADABLE', cause });
}

function tooLarge(file: string): StackFileError {
  return unreadable(file, `the file is larger than ${MAX_STACK_FILE_BYTES / 1024} KiB`);
}

/** Without repeats (same place, same message), in the order found. */
function unique(issues: readonly StackIssue[]): StackIssue[] {
  const byKey = new Map(
    issues.map((issue) => [`${issue.path}\0${issue.line ?? ''}\0${issue.message}`, issue]),
  );
  return [...byKey.values()];
}

/** Stable: problems on the same line keep the order they were found in. */
function sortByLine(issues: StackIssue[]): StackIssue[] {
  return issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}
