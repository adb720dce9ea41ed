/* eslint-disable no-control-regex -- terminal escape sequences are what these tests look for */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { CORRAL, scratch } from '../helpers/cli.js';

/**
 * `corral run` on a real terminal (a pty from util-linux's `script`): prefixes coloured, a child's
 * terminal escapes kept out of the shared output, and no colour or cursor movement at all with
 * NO_COLOR or TERM=dumb.
 */

const T = { timeout: 60_000 };

/**
 * Runs the stack on a pty; resolves with everything the terminal received. `size` sets the
 * terminal's size first; without it the pty has none (0 by 0), as one nobody sized.
 */
function onTerminal(
  file: string,
  env: NodeJS.ProcessEnv,
  size?: { columns: number; rows: number },
): Promise<string> {
  const stty = size ? `stty cols ${size.columns} rows ${size.rows}; ` : '';
  const command = `${stty}${process.execPath} ${CORRAL} run -f ${file}`;
  return new Promise((resolve, reject) => {
    execFile(
      'script',
      ['--quiet', '--flush', '--return', '--command', command, '/dev/null'],
      { env: { ...process.env, TERM: 'xterm-256color', ...env }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout) => {
        if (error) reject(new Error(`${error.message}\n${stdout}`));
        else resolve(stdout);
      },
    );
  });
}

function stack(): { file: string; cleanup: () => void } {
  const s = scratch();
  // The child tries to set the window title, clear the screen and home the cursor, then prints a
  // coloured word; it ends on its own, which ends the run.
  const file = s.write(
    'corral.yaml',
    `components:
  web:
    shell: "printf '\\\\033]0;pwned\\\\007\\\\033[2J\\\\033[Hhello \\\\033[31mred\\\\033[0m\\\\n'"
`,
  );
  return { file, cleanup: s.cleanup };
}

test(
  'on a terminal: prefixes are coloured, a child’s colours kept, its title and screen escapes removed',
  T,
  async () => {
    const { file, cleanup } = stack();
    try {
      const screen = await onTerminal(file, {});
      assert.match(
        screen,
        /^(\x1b\[\?2026h)? {2}web {2}\x1b\[\d+m(starting|ready)/m,
        'the live view was drawn',
      );
      // The live view erases itself before each line it lets through: it moves up (`ESC [ n A`),
      // erases lines (`ESC [ 2 K`), returns to the first column (`ESC [ G`), all inside
      // synchronized-output brackets (`ESC [ ? 2026 h` … `l`).
      const line = screen
        .split(/\r?\n/)
        .find((l) => l.includes('hello'))
        ?.replace(/^(\x1b\[\?2026[hl]|\x1b\[2K|\x1b\[\d*A|\x1b\[G)+/, '');
      assert.ok(line !== undefined, screen);
      assert.equal(line, '\x1b[36mweb\x1b[0m | hello \x1b[31mred\x1b[0m\x1b[0m');
      assert.doesNotMatch(screen, /\x1b\]0;|pwned|\x1b\[2J|\x1b\[H/);
    } finally {
      cleanup();
    }
  },
);

for (const env of [{ NO_COLOR: '1' }, { TERM: 'dumb' }]) {
  test(
    `on a terminal with ${Object.entries(env)[0]?.join('=')}: no colour and no cursor movement`,
    T,
    async () => {
      const { file, cleanup } = stack();
      try {
        const screen = await onTerminal(file, env);
        assert.match(screen, /^web \| hello red\r?$/m);
        assert.doesNotMatch(screen, /\x1b/, 'no escape sequence at all');
      } finally {
        cleanup();
      }
    },
  );
}

/**
 * What a terminal `columns` wide shows after receiving `output`: printable text wraps at the last
 * column, and the cursor moves and erasures that Corral's live view uses are applied. The screen
 * is taken to be tall enough never to scroll.
 */
function render(output: string, columns: number): string[] {
  const screen: string[][] = [[]];
  let row = 0;
  let column = 0;
  const line = (): string[] => (screen[row] ??= []);
  const tokens = /\x1b\[([?\d;]*)([A-Za-z])|\x1b\][^\x07]*\x07|([\s\S])/g;
  for (const [, params = '', command, text] of output.matchAll(tokens)) {
    const n = Number(params) || 1;
    if (text === '\r') column = 0;
    else if (text === '\n') row++;
    else if (text !== undefined) {
      // A character written past the last column starts the next line (the pending wrap).
      if (column >= columns) [row, column] = [row + 1, 0];
      line()[column++] = text;
    } else if (command === 'A') [row, column] = [Math.max(0, row - n), Math.min(column, columns - 1)];
    else if (command === 'B') row += n;
    else if (command === 'F') [row, column] = [Math.max(0, row - n), 0];
    else if (command === 'G') column = Number(params || '1') - 1;
    else if (command === 'K' && params === '2') screen[row] = [];
    else if (command === 'K') line().length = Math.min(line().length, column);
    else if (command === 'J') {
      line().length = Math.min(line().length, column);
      screen.length = row + 1;
    }
    // Anything else (colours, synchronized output) does not change what the screen shows.
  }
  // Rows and cells never written are holes in the arrays: blank.
  return Array.from({ length: screen.length }, (_, r) => {
    const cells = screen[r] ?? [];
    return Array.from({ length: cells.length }, (_, c) => cells[c] ?? ' ')
      .join('')
      .trimEnd();
  });
}

test('on a narrow terminal, the live view wraps its rows and leaves no piece of them behind', T, async () => {
  const s = scratch();
  try {
    // The component outlives a few redraws, and its status row (about 50 characters) takes two
    // lines of a 30-column terminal.
    const file = s.write('corral.yaml', 'components:\n  web:\n    command: [sleep, "1.5"]\n');
    const output = await onTerminal(file, {}, { columns: 30, rows: 200 });
    assert.match(
      output,
      /^(\x1b\[\?2026h)? {2}web {2}\x1b\[\d+m(starting|ready)/m,
      'the live view was drawn',
    );
    const screen = render(output, 30);
    // What stays is Corral's own lines and the stop report: the status row's first line starts
    // with the component's name and state, its second holds the uptime and readiness.
    const leftovers = screen.filter(
      (l) =>
        /^ {2}web {2,}(pending|starting|ready|stopping|stopped|failed)/.test(l) ||
        /^ *(up \S+ +)?(not )?ready$/.test(l),
    );
    assert.deepEqual(leftovers, [], screen.join('\n'));
    assert.ok(
      screen.some((l) => l.startsWith('stop report')),
      screen.join('\n'),
    );
  } finally {
    s.cleanup();
  }
});
