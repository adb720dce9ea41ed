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

/** Runs the stack on a pty; resolves with everything the terminal received. */
function onTerminal(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  const command = `${process.execPath} ${CORRAL} run -f ${file}`;
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
      // Corral's live view clears itself (`ESC [ n F`, `ESC [ J`) before each line it lets through.
      const line = screen
        .split(/\r?\n/)
        .find((l) => l.includes('hello'))
        ?.replace(/^(\x1b\[\d+F\x1b\[J)+/, '');
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
