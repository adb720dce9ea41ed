import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { after, test } from 'node:test';
import { forwardOutput, LineTap, OutputPipe, OutputSink } from '../../src/output/forward.js';
import { isAlive } from '../../src/containment/liveness.js';
import { waitUntil } from '../helpers/process.js';

const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'corral-output-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every child a test started, so that each test can check it left nothing behind. */
const children = new Set<ChildProcess>();

/**
 * The two ways a child's output reaches a forwarder: Node's own `stdio: 'pipe'` (a Readable) and
 * Corral's OutputPipe. Every guarantee is tested with both.
 */
const kinds = ['readable', 'pipe'] as const;
type Kind = (typeof kinds)[number];

interface Started {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly source: Readable | OutputPipe;
}

async function start(kind: Kind, command: string, args: readonly string[]): Promise<Started> {
  let child: ChildProcess;
  let source: Readable | OutputPipe;
  if (kind === 'pipe') {
    const [pipe] = await OutputPipe.open(1);
    assert.ok(pipe);
    child = spawn(command, args, { stdio: ['ignore', pipe.childEnd, 'inherit'] });
    pipe.releaseChildEnd();
    source = pipe;
  } else {
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    assert.ok(child.stdout);
    source = child.stdout;
  }
  children.add(child);
  assert.ok(child.pid !== undefined);
  return { child, pid: child.pid, source };
}

/** Generous for a busy 2-core machine; the shared poll is test/process/support.ts's. */
const waitFor = (condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> =>
  waitUntil(condition, what, timeoutMs);

async function noChildLeft(): Promise<void> {
  for (const child of children) {
    if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
  }
  await waitFor(() => [...children].every((c) => c.pid === undefined || !isAlive(c.pid)), 'children to exit');
  children.clear();
}

/** A file sink written by descriptor (`sync`), or through an fs.WriteStream with back-pressure. */
function fileSink(file: string, sync: boolean): OutputSink {
  return sync ? OutputSink.openFile(file) : new OutputSink(createWriteStream(file), { owned: true });
}

async function forwardToFile(source: Readable | OutputPipe, name: string, sync = true): Promise<string> {
  const file = join(dir, name);
  const sink = fileSink(file, sync);
  await forwardOutput(source, { component: 'app', stream: 'stdout', format: 'prefixed', sink });
  await sink.close();
  return readFileSync(file, 'latin1');
}

/** A sink collecting everything written to it, through a Writable (so it buffers like one). */
function memorySink(): { sink: OutputSink; text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new OutputSink(
    new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        chunks.push(chunk);
        callback();
      },
    }),
  );
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}

const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';

/** Bytes the process has written so far, from the kernel's own count. */
function bytesWritten(pid: number): number {
  const match = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  assert.ok(match, `no wchar in /proc/${pid}/io`);
  return Number(match[1]);
}

/**
 * A destination that takes 5 ms to complete each write (about 13 MB/s), recording its backlog and
 * how many lines reached it.
 */
function slowDestination(): { stream: Writable; lines: () => number; maxBuffered: () => number } {
  let lines = 0;
  let maxBuffered = 0;
  const stream = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
      maxBuffered = Math.max(maxBuffered, stream.writableLength);
      setTimeout(callback, 5);
    },
  });
  return { stream, lines: () => lines, maxBuffered: () => maxBuffered };
}

/**
 * Runs `yes` (which writes as fast as the pipe takes it) into a slow destination until 4 MB have
 * arrived there, and returns how far the child got ahead of the destination by then, with the
 * largest backlogs seen in the destination and (for a Readable) in the source stream.
 */
async function floodSlowDestination(
  kind: Kind,
  forward: (source: Readable | OutputPipe, destination: Writable) => Promise<void>,
): Promise<{ lag: number; maxBuffered: number; maxReadable: number }> {
  const { pid, source } = await start(kind, 'yes', [LINE]);
  const destination = slowDestination();
  let maxReadable = 0;
  const sampler = setInterval(() => {
    if (!(source instanceof OutputPipe)) maxReadable = Math.max(maxReadable, source.readableLength);
  }, 5);
  const forwarding = forward(source, destination.stream);
  const lineBytes = LINE.length + 1;
  await waitFor(() => destination.lines() * lineBytes >= 4_000_000, '4 MB at the destination');
  // What the child wrote beyond the lines that reached the destination sits in buffers.
  const lag = bytesWritten(pid) - destination.lines() * lineBytes;
  clearInterval(sampler);
  process.kill(pid, 'SIGKILL');
  await forwarding;
  return { lag, maxBuffered: destination.maxBuffered(), maxReadable };
}

/** The lines of `text` that are not `<tag> | <tag> <n> <pad>` with n counting up from 1 per tag. */
function misplacedLines(text: string, tags: readonly string[], count: number, pad: string): string[] {
  const next = new Map(tags.map((tag) => [tag, 1]));
  const bad: string[] = [];
  for (const line of text.split('\n').slice(0, -1)) {
    const match = /^(\w+) \| (\w+) (\d+)(.*)$/.exec(line);
    const tag = match?.[1] ?? '';
    if (!match || match[2] !== tag || Number(match[3]) !== next.get(tag) || match[4] !== pad) bad.push(line);
    else next.set(tag, (next.get(tag) ?? 0) + 1);
  }
  for (const [tag, n] of next) if (n !== count + 1) bad.push(`(${tag} stopped at ${n - 1})`);
  return bad;
}

for (const kind of kinds) {
  for (const sync of [true, false]) {
    test(
      `${kind}, ${sync ? 'descriptor' : 'stream'} file: 1,000,000 numbered lines from a real child arrive, none lost, in order`,
      { timeout: 60_000 },
      async () => {
        const { source } = await start(kind, fixture('out-lines'), ['1000000']);
        const lines = (await forwardToFile(source, `million-${kind}-${sync}.log`, sync)).split('\n');
        assert.equal(lines.pop(), '', 'the output ends with a newline');
        assert.equal(lines.length, 1_000_000);
        for (let i = 0; i < lines.length; i++) {
          if (lines[i] !== `app | line ${i + 1}`) assert.fail(`line ${i + 1} is ${JSON.stringify(lines[i])}`);
        }
        await noChildLeft();
      },
    );
  }

  test(
    `${kind}: a last line without a newline is forwarded, terminated, at the end`,
    { timeout: 20_000 },
    async () => {
      const { source } = await start(kind, fixture('out-lines'), ['3', 'tail', '0', 'none']);
      assert.equal(
        await forwardToFile(source, `tail-${kind}.log`),
        'app | tail 1\napp | tail 2\napp | tail 3\n',
      );
      await noChildLeft();
    },
  );

  test(
    `${kind}: lines written just before the child is SIGKILLed all arrive`,
    { timeout: 20_000 },
    async () => {
      const { child, source } = await start(kind, fixture('out-lines'), ['20000', 'last', '200', 'kill']);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, signal) => resolve(signal)),
      );
      const lines = (await forwardToFile(source, `killed-${kind}.log`)).split('\n');
      assert.equal(await exited, 'SIGKILL');
      assert.equal(lines.pop(), '');
      assert.equal(lines.length, 20_000);
      assert.equal(lines.at(-1), `app | last 20000 ${'x'.repeat(200)}`);
      await noChildLeft();
    },
  );

  test(
    `${kind}: a child writing faster than the destination drains is paused, with bounded buffers`,
    { timeout: 60_000 },
    async () => {
      const result = await floodSlowDestination(kind, async (source, destination) => {
        const sink = new OutputSink(destination);
        await forwardOutput(source, { component: 'app', stream: 'stdout', format: 'prefixed', sink });
      });
      // Between the child and the destination sit only the kernel's socket buffers (a few hundred
      // KB), the stream's buffer and the destination's: the child cannot get far ahead.
      assert.ok(result.lag < 2_000_000, `the child got ${result.lag} bytes ahead of the destination`);
      assert.ok(result.maxBuffered < 256 * 1024, `the destination buffered ${result.maxBuffered} bytes`);
      assert.ok(result.maxReadable < 256 * 1024, `the source buffered ${result.maxReadable} bytes`);
      await noChildLeft();
    },
  );

  for (const sync of [true, false]) {
    test(
      `${kind}, ${sync ? 'descriptor' : 'stream'} file: two children sharing it interleave only at line boundaries`,
      { timeout: 60_000 },
      async () => {
        const file = join(dir, `shared-${kind}-${sync}.log`);
        const sink = fileSink(file, sync);
        // 30,000 lines of 310 bytes each: chunks end mid-line almost every time.
        const forwarded = ['a', 'b'].map(async (tag) =>
          forwardOutput((await start(kind, fixture('out-lines'), ['30000', tag, '300'])).source, {
            component: tag,
            stream: 'stdout',
            format: 'prefixed',
            sink,
          }),
        );
        await Promise.all(forwarded);
        await sink.close();
        const pad = ` ${'x'.repeat(300)}`;
        assert.deepEqual(
          misplacedLines(readFileSync(file, 'latin1'), ['a', 'b'], 30_000, pad).slice(0, 3),
          [],
        );
        await noChildLeft();
      },
    );
  }

  test(
    `${kind}: aborting stops forwarding from a pipe held open, writing the unfinished line`,
    { timeout: 20_000 },
    async () => {
      // The child exits at once, but a background sleep inherits the pipe and keeps it open.
      const pidFile = join(dir, `holder-${kind}`);
      const { source } = await start(kind, 'bash', [
        '-c',
        `printf "done\\npartial"; sleep 30 & echo $! > ${pidFile}.tmp; mv ${pidFile}.tmp ${pidFile}; exit 0`,
      ]);
      const { sink, text } = memorySink();
      const controller = new AbortController();
      const forwarding = forwardOutput(source, {
        component: 'app',
        stream: 'stdout',
        format: 'prefixed',
        sink,
        signal: controller.signal,
      });
      await waitFor(() => text() === 'app | done\n' && existsSync(pidFile), 'the finished line');
      const holderPid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(isAlive(holderPid), 'the pipe is still held open');
      controller.abort();
      await forwarding;
      assert.equal(text(), 'app | done\napp | partial\n');
      if (kind === 'readable') assert.equal((source as Readable).destroyed, true);
      process.kill(holderPid, 'SIGKILL');
      await waitFor(() => !isAlive(holderPid), 'the background sleep to exit');
      await noChildLeft();
    },
  );

  test(
    `${kind}: a failing destination is reported once and the child is still drained to its end`,
    { timeout: 20_000 },
    async () => {
      const errors: Error[] = [];
      const broken = new Writable({
        write: (_chunk, _encoding, callback) => {
          callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        },
      });
      const sink = new OutputSink(broken, { onError: (error) => errors.push(error) });
      const { child, source } = await start(kind, fixture('out-lines'), ['200000']);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await forwardOutput(source, { component: 'app', stream: 'stdout', format: 'prefixed', sink });
      assert.equal(errors.length, 1);
      assert.equal(sink.error, errors[0]);
      assert.equal(await exited, 0, 'the child was not blocked by the failed destination');
      await noChildLeft();
    },
  );
}

test(
  'negative control: forwarding that ignores back-pressure lets the child run far ahead',
  { timeout: 60_000 },
  async () => {
    const result = await floodSlowDestination('readable', async (source, destination) => {
      const stdout = source as Readable;
      stdout.on('data', (chunk: Buffer) => destination.write(chunk));
      await new Promise((resolve) => stdout.once('close', resolve));
    });
    assert.ok(result.lag > 2_000_000, `the child got only ${result.lag} bytes ahead`);
    await noChildLeft();
  },
);

test(
  'negative control: the line check catches chunks written as they come',
  { timeout: 60_000 },
  async () => {
    const file = join(dir, 'naive.log');
    const sink = OutputSink.openFile(file);
    const forwarded = ['a', 'b'].map(async (tag) => {
      const stdout = (await start('readable', fixture('out-lines'), ['30000', tag, '300']))
        .source as Readable;
      let first = true;
      stdout.on('data', (chunk: Buffer) => {
        // Prefixes every line of the chunk, but writes partial lines at the chunk's end as they are.
        const text = chunk.toString('latin1');
        sink.write(
          Buffer.from((first ? `${tag} | ` : '') + text.replaceAll(/\n(?=.)/g, `\n${tag} | `), 'latin1'),
        );
        first = text.endsWith('\n');
      });
      return new Promise((resolve) => stdout.once('close', resolve));
    });
    await Promise.all(forwarded);
    await sink.close();
    const pad = ` ${'x'.repeat(300)}`;
    assert.notDeepEqual(misplacedLines(readFileSync(file, 'latin1'), ['a', 'b'], 30_000, pad), []);
    await noChildLeft();
  },
);

test('an OutputPipe keeps what arrives before forwarding starts', { timeout: 20_000 }, async () => {
  // 300 lines of 110 bytes: few enough for the socket's buffer, so the child can finish first.
  const { child, source } = await start('pipe', fixture('out-lines'), ['300', 'early', '100']);
  await new Promise((resolve) => child.once('exit', resolve));
  const lines = (await forwardToFile(source, 'early.log')).split('\n');
  assert.equal(lines.length, 301);
  assert.equal(lines[299], `app | early 300 ${'x'.repeat(100)}`);
  await noChildLeft();
});

test(
  'watchers of a LineTap see every line of both streams, decoded, while subscribed',
  { timeout: 20_000 },
  async () => {
    const child = spawn('bash', ['-c', 'printf "out 1\\r\\nout \\xc3\\xa9\\n"; printf "err 1\\nerr 2" >&2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const { sink } = memorySink();
    const lines = new LineTap();
    const seen: string[] = [];
    const unwatch = lines.watch((line, stream) => seen.push(`${stream}: ${line}`));
    assert.equal(lines.watched, true);
    await Promise.all([
      forwardOutput(child.stdout, { component: 'app', stream: 'stdout', format: 'prefixed', sink, lines }),
      forwardOutput(child.stderr, { component: 'app', stream: 'stderr', format: 'prefixed', sink, lines }),
    ]);
    unwatch();
    assert.equal(lines.watched, false);
    assert.deepEqual(
      seen.filter((l) => l.startsWith('stdout')),
      ['stdout: out 1', 'stdout: out é'],
    );
    assert.deepEqual(
      seen.filter((l) => l.startsWith('stderr')),
      ['stderr: err 1', 'stderr: err 2'],
    );
    await noChildLeft();
  },
);

test('json format writes one pino-style record per line', { timeout: 20_000 }, async () => {
  const { source } = await start('pipe', 'bash', [
    '-c',
    'printf "plain\\n\\"quoted\\" \\\\ tab\\t\\n\\xff bad utf8\\nlast"',
  ]);
  const { sink, text } = memorySink();
  await forwardOutput(source, { component: 'api', stream: 'stdout', format: 'json', sink, now: () => 1234 });
  const records = text()
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  const record = (line: string): unknown => ({
    level: 30,
    time: 1234,
    component: 'api',
    stream: 'stdout',
    line,
  });
  assert.deepEqual(records, [
    record('plain'),
    record('"quoted" \\ tab\t'),
    record('\ufffd bad utf8'),
    record('last'),
  ]);
  await noChildLeft();
});

test(
  'raw output from an OutputPipe into a buffering destination is copied, not a view',
  { timeout: 20_000 },
  async () => {
    const { source } = await start('pipe', fixture('out-lines'), ['50000', 'raw', '100']);
    const { sink, text } = memorySink();
    await forwardOutput(source, { component: 'app', stream: 'stdout', format: 'raw', sink });
    const lines = text().split('\n');
    assert.equal(lines.length, 50_001);
    assert.equal(lines[49_999], `raw 50000 ${'x'.repeat(100)}`);
    assert.ok(lines.slice(0, -1).every((line, i) => line.startsWith(`raw ${i + 1} `)));
    await noChildLeft();
  },
);
