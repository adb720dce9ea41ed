import { CorralError } from '../core/errors.js';

/** One problem in a stack file: where (`components.app.stopTimeout`, line 22) and what. */
export interface StackIssue {
  /** Dotted path into the document; `""` for the document as a whole. */
  readonly path: string;
  /** 1-based line in the file, when the problem has a place in it. */
  readonly line: number | undefined;
  /** Never contains an environment value, a header value or a connection string. */
  readonly message: string;
}

/**
 * A stack file that cannot be used, with every problem found (not only the first). `code` is
 * `STACK_INVALID` for a file that was read but is wrong, `STACK_UNREADABLE` for one that could not be
 * read. The message lists one problem per line, ready to print as it is.
 */
export class StackFileError extends CorralError<'STACK_INVALID' | 'STACK_UNREADABLE'> {
  constructor(
    readonly file: string,
    readonly issues: readonly StackIssue[],
    options: { code?: StackFileError['code']; cause?: unknown } = {},
  ) {
    super(options.code ?? 'STACK_INVALID', renderMessage(file, issues), { cause: options.cause });
  }
}

/** How many problems the message lists; `issues` keeps them all. */
const LISTED = 50;

function renderMessage(file: string, issues: readonly StackIssue[]): string {
  const lines = issues.slice(0, LISTED).map((issue) => {
    const line = issue.line === undefined ? '' : `line ${issue.line}`;
    const where = issue.path === '' ? line : line === '' ? issue.path : `${issue.path} (${line})`;
    return `  ${where === '' ? '' : `${where}: `}${issue.message}`;
  });
  if (issues.length > LISTED) lines.push(`  … and ${issues.length - LISTED} more`);
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `invalid stack file ${file} (${count}):\n${lines.join('\n')}`;
}
