import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { isAlive } from '../../src/containment/liveness.js';
import { killPids, waitUntil } from '../helpers/process.js';
import { CORRAL, scratch } from '../helpers/cli.js';

/**
 * Corral's own stdout as containers and `| tee` give it: a pipe, read slowly, late, with a stall,
 * or not at all. Every line of a component's two streams must arrive whole and in order, and a
 * reader that falls behind must hold the component back rather than lose its lines.
 */

const T = { timeout: 180_000 };
const LINES = 1_000_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Format = 'json' | 'pretty';
type Reader = 'slow' | 'late' | 'stalled';

/**
 * Follows the lines of one or two of Corral's streams and checks that the component's lines of
 * each of its streams come 1, 2, 3… in order. `stdout` lines of the component are plain numbers,
 * `stderr` lines the same numbers after an `e`.
 */
class LineCheck {
  readonly next = { stdout: 1, stderr: 1 };
  readonly problems: string[] = [];
  readonly #format: Format;
  #carry = '';

  constructor(format: Format) {
    this.#format = format;
  }

  push(text: string): void {
    const lines = (this.#carry + text).split('\n');
    this.#carry = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  end(): void {
    if (this.#carry !== '')
      this.#problem(`unterminated last line ${JSON.stringify(this.#carry.slice(0, 200))}`);
    this.#carry = '';
  }

  #line(line: string): void {
    let value: string;
    if (this.#format === 'json') {
      if (!line.startsWith('{') || !line.endsWith('}')) {
        this.#problem(`not a record: ${line.slice(0, 200)}`);
        return;
      }
      const record = JSON.parse(line) as { component?: string; line?: string };
      // Corral's own records about the component carry no line.
      if (record.component !== 'm' || record.line === undefined) return;
      value = record.line;
    } else {
      if (!line.startsWith('m | ')) {
        // Corral's own lines start with a time; anything else is a torn or mangled line.
        if (
          !/^\d\d:\d\d:\d\d\.\d\d\d corral /.test(line) &&
          !line.startsWith('stop report') &&
          !/^ {2}\S/.test(line)
        )
          this.#problem(`unexpected line: ${line.slice(0, 200)}`);
        return;
      }
      value = line.slice(4);
    }
    const stream = value.startsWith('e') ? 'stderr' : 'stdout';
    const n = Number(stream === 'stderr' ? value.slice(1) : value);
    if (n !== this.next[stream])
      this.#problem(`${stream}: expected ${this.next[stream]}, got ${JSON.stringify(value)}`);
    this.next[stream] = n + 1;
  }

  #problem(text: string): void {
    if (this.problems.length < 5) this.problems.push(text);
  }
}

/** A stack whose one component writes LINES numbered lines to each stream, then marks each as done. */
function floodStack(s: ReturnType<typeof scratch>): string {
  return s.write(
    'corral.yaml',
    `shutdown: { timeout: 120s }
components:
  m:
    shell: "(seq 1 ${LINES}; : > ${s.dir}/out-done) & (seq -f e%g 1 ${LINES} >&2; : > ${s.dir}/err-done) & wait"
`,
  );
}

/** Reads `stream` into `check` the way `reader` does; `blocked` is called while the reader holds back. */
async function read(stream: Readable, check: LineCheck, reader: Reader, blocked: () => void): Promise<void> {
  stream.setEncoding('utf8');
  if (reader === 'late') {
    await sleep(3_000);
    blocked();
  }
  let stalled = false;
  stream.on('data', (text: string) => {
    check.push(text);
    if (reader === 'slow') {
      stream.pause();
      setTimeout(() => stream.resume(), 2);
    } else if (reader === 'stalled' && !stalled && check.next.stdout > LINES / 3) {
      stalled = true;
      stream.pause();
      void sleep(3_000).then(() => {
        blocked();
        stream.resume();
      });
    }
  });
  await once(stream, 'end');
  check.end();
}

async function runFlood(format: Format, reader: Reader, mergeStderr: boolean): Promise<void> {
  const s = scratch();
  const file = floodStack(s);
  const args = [CORRAL, 'run', '-f', file, '--log-format', format];
  // `2>&1`: stdout and stderr are one pipe, so Corral's two streams must not tear each other's lines.
  const child: ChildProcess = mergeStderr
    ? spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'ignore'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  try {
    const check = new LineCheck(format);
    // In pretty mode without `2>&1`, the component's stderr lines come on Corral's stderr.
    const errCheck = format === 'pretty' && !mergeStderr ? new LineCheck(format) : check;
    const heldBack: string[] = [];
    const blocked = (): void => {
      // The reader has held back for 3 s: a component that could run ahead would have finished.
      if (existsSync(`${s.dir}/out-done`)) heldBack.push('stdout finished while its reader held back');
      if (errCheck === check && existsSync(`${s.dir}/err-done`))
        heldBack.push('stderr finished while its reader held back');
    };
    const reading = [read(child.stdout as Readable, check, reader, blocked)];
    if (errCheck !== check) reading.push(read(child.stderr as Readable, errCheck, 'slow', () => undefined));
    await Promise.all(reading);
    const [code] = (await exited) as [number | null];
    assert.deepEqual(check.problems, []);
    assert.deepEqual(errCheck.problems, []);
    assert.equal(check.next.stdout, LINES + 1, 'every stdout line arrived');
    assert.equal(errCheck.next.stderr, LINES + 1, 'every stderr line arrived');
    assert.deepEqual(heldBack, [], 'a reader that holds back holds the component back');
    assert.equal(code, 0);
  } finally {
    if (child.pid !== undefined && isAlive(child.pid)) killPids([child.pid]);
    s.cleanup();
  }
}

for (const format of ['json', 'pretty'] as const) {
  for (const reader of ['slow', 'late', 'stalled'] as const) {
    test(
      `${format}, stdout a pipe with a ${reader} reader: a million lines per stream arrive whole and in order`,
      T,
      () => runFlood(format, reader, false),
    );
  }
  test(`${format}, stdout and stderr one pipe (2>&1) with a late reader: no line is torn`, T, () =>
    runFlood(format, 'late', true),
  );
}

/** Corral running a component that writes for ever and notes when it is asked to stop. */
interface Endless {
  readonly s: ReturnType<typeof scratch>;
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exited: Promise<unknown[]>;
  readonly stderr: () => string;
  /** Resolves once the component has made no progress for a second: held back by the reader. */
  readonly stalled: () => Promise<void>;
  /** Corral's exit code, or `hung` when it has not exited within `ms`. */
  readonly exitCode: (ms: number) => Promise<number | null | 'hung'>;
}

/**
 * Runs `body` against such a run, whose stdout is a pipe this test reads only when it chooses;
 * afterwards the component must be gone, and whatever is left is killed.
 */
async function endless(format: Format, budget: string, body: (run: Endless) => Promise<void>): Promise<void> {
  const s = scratch();
  const file = s.write(
    'corral.yaml',
    `shutdown: { timeout: ${budget} }
components:
  m:
    shell: "trap ': > ${s.dir}/stopped; exit 0' TERM; echo $$ > ${s.dir}/pid; i=0; while :; do seq 1 1000; i=$((i+1)); echo $i > ${s.dir}/progress; done"
`,
  );
  const child = spawn(process.execPath, [CORRAL, 'run', '-f', file, '--log-format', format], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = once(child, 'exit');
  const progress = (): string =>
    existsSync(`${s.dir}/progress`) ? readFileSync(`${s.dir}/progress`, 'utf8') : '';
  const run: Endless = {
    s,
    child,
    exited,
    stderr: () => stderr,
    stalled: async () => {
      let last = '';
      let since = performance.now();
      await waitUntil(
        () => {
          const now = progress();
          if (now !== last || now === '') [last, since] = [now, performance.now()];
          return performance.now() - since > 1_000;
        },
        'the component to be held back by the reader',
        20_000,
      );
    },
    exitCode: async (ms) => {
      const [code] = (await Promise.race([exited, sleep(ms).then(() => ['hung'])])) as [
        number | null | 'hung',
      ];
      return code;
    },
  };
  try {
    await body(run);
    const pid = Number(readFileSync(`${s.dir}/pid`, 'utf8'));
    try {
      await waitUntil(() => !isAlive(pid), `component pid ${pid} to be gone`);
    } finally {
      killPids([pid]);
    }
  } finally {
    if (child.pid !== undefined && isAlive(child.pid)) killPids([child.pid]);
    s.cleanup();
  }
}

for (const format of ['json', 'pretty'] as const) {
  test(
    `${format}: with a reader that never reads, signals still work, and the third kills everything`,
    T,
    () =>
      endless(format, '60s', async ({ s, child, stalled, exitCode }) => {
        await stalled();
        child.kill('SIGTERM');
        await waitUntil(() => existsSync(`${s.dir}/stopped`), 'the component to get its stop signal', 10_000);
        // Three different stop signals: the kernel would merge a second SIGTERM still pending.
        child.kill('SIGINT');
        child.kill('SIGHUP');
        assert.equal(await exitCode(10_000), 1, 'the third signal ends Corral at once');
      }),
  );

  test(`${format}: with a reader that never reads, the stop ends within the shutdown budget`, T, () =>
    endless(format, '3s', async ({ s, child, stalled, exitCode, stderr }) => {
      await stalled();
      child.kill('SIGTERM');
      assert.notEqual(await exitCode(30_000), 'hung', 'Corral exited though nobody read its output');
      assert.ok(existsSync(`${s.dir}/stopped`), 'the component was stopped gracefully');
      assert.doesNotMatch(stderr(), /\n\s+at /, 'no stack trace');
    }),
  );

  test(
    `${format}: a reader that goes away (| head -1) stops the stack gracefully, exit 1, no stack trace`,
    T,
    () =>
      endless(format, '60s', async ({ s, child, exitCode, stderr }) => {
        await once(child.stdout, 'data');
        // Once the component is set to stop gracefully (its trap is set before it writes its pid).
        await waitUntil(() => existsSync(`${s.dir}/pid`), 'the component to start', 10_000);
        child.stdout.destroy();
        assert.equal(await exitCode(30_000), 1, stderr());
        assert.ok(existsSync(`${s.dir}/stopped`), 'the component was stopped gracefully');
        assert.match(stderr(), /stdout was closed/);
        assert.doesNotMatch(stderr(), /\n\s+at /, 'no stack trace');
      }),
  );
}
