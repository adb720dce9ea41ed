/**
 * Log throughput: a child writes `--mb` MB of 51-byte lines (`yes '<50 characters>' | head -c N`).
 * Compared in the same run, round by round (so that a busy machine hurts every contender alike):
 *
 * - `cat`: the same stream piped through `cat` into a file, the floor;
 * - Corral: the child's stdout through `forwardOutput` with `app | ` prefixes into a file sink,
 *   in a Node process of its own (bench/log-forward.ts) so that its peak RSS is its own; once
 *   through an OutputPipe (what process components use), once more so with every line also kept
 *   in `corral logs`'s buffer (what `corral run` does), and once through Node's `stdio: 'pipe'`
 *   (their fallback when OutputPipes cannot be made);
 * - concurrently 9 with its `[app]` prefixes, stdout redirected to a file.
 *
 * Times run from spawning the pipeline to its last byte written. Corral's is measured inside its
 * process, without Node's start-up; concurrently's is measured from outside and so includes Node's
 * start-up, reported on its own for subtraction. Peak RSS: maxRSS reported by the Corral process
 * itself, and GNU time's %M for `cat` and concurrently. Every output file is created afresh (a
 * truncated file would make ext4 flush it on close, charging the next contender).
 *
 *     node --import tsx bench/log-throughput.ts [--mb 200] [--rounds 7] [--out report.md]
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { LineFormatter } from '../src/output/line-format.js';

const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 50 characters, 51 with the newline
const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '7' },
    out: { type: 'string' },
  },
});
const bytes = Number(values.mb) * 1_000_000;
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), 'corral-bench-log-'));
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const writer = (n: number): string => `yes '${LINE}' | head -c ${n}`;

interface Sample {
  readonly ms: number;
  readonly rssKb: number | undefined;
  /** Corral only: RSS once loaded, before forwarding (Node with the tsx loader). */
  readonly rssBeforeKb?: number;
  readonly outBytes: number;
}

/** Runs `argv` with stdout into a new file `file`; resolves with the wall time once it exited 0. */
function run(argv: readonly string[], file: string): Promise<number> {
  rmSync(file, { force: true });
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'w');
    const started = performance.now();
    const [command = '', ...args] = argv;
    const child = spawn(command, args, { stdio: ['ignore', fd, 'pipe'], cwd: root });
    closeSync(fd);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${argv.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
}

function readRss(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim().split('\n').at(-1));
  } catch {
    return undefined;
  }
}

/** Runs `argv` under GNU time when present, for its peak RSS. */
async function timed(name: string, argv: readonly string[]): Promise<Sample> {
  const out = join(dir, `${name}.out`);
  const rssFile = join(dir, `${name}.rss`);
  const ms = await run(gnuTime ? [gnuTime, '-f', '%M', '-o', rssFile, ...argv] : argv, out);
  return { ms, rssKb: gnuTime ? readRss(rssFile) : undefined, outBytes: statSync(out).size };
}

async function cat(n: number): Promise<Sample> {
  const out = join(dir, 'cat.out');
  const rssFile = join(dir, 'cat.rss');
  const catCommand = gnuTime ? `${gnuTime} -f %M -o ${rssFile} cat` : 'cat';
  const ms = await run(['sh', '-c', `${writer(n)} | ${catCommand}`], out);
  return { ms, rssKb: gnuTime ? readRss(rssFile) : undefined, outBytes: statSync(out).size };
}

async function corral(
  n: number,
  via: 'pipe' | 'readable',
  format = 'prefixed',
  buffer = false,
): Promise<Sample> {
  const out = join(dir, 'corral.out');
  rmSync(out, { force: true }); // the forwarder appends
  const report = join(dir, 'corral.json');
  const argv = ['node', '--import', 'tsx', 'bench/log-forward.ts', String(n), out, format, 'sync', via];
  await run(buffer ? [...argv, 'buffer'] : argv, report);
  const { ms, rssBeforeKb, maxRssKb } = JSON.parse(readFileSync(report, 'utf8')) as {
    ms: number;
    rssBeforeKb: number;
    maxRssKb: number;
  };
  return { ms, rssKb: maxRssKb, rssBeforeKb, outBytes: statSync(out).size };
}

const concurrently = (n: number): Promise<Sample> =>
  timed('concurrently', [join(root, 'node_modules/.bin/concurrently'), '-n', 'app', writer(n)]);

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const fmtMs = (ms: number): string => `${Math.round(ms)} ms`;
const fmtRss = (kb: number | undefined): string =>
  kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`;
const fmtLoad = (load: readonly number[]): string => load.map((l) => l.toFixed(2)).join(' ');

/** pino's own per-line cost against the formatter's JSON, for the record format's design choice. */
function jsonPerLine(): { pinoMs: number; formatterMs: number; lines: number } {
  const lines = 500_000;
  // Buffered like the forwarder's writes (16 KiB, sonic-boom's largest), so formatting is compared.
  const devNull = pino.destination({ dest: '/dev/null', sync: true, minLength: 16 * 1024 - 1 });
  const logger = pino({ base: undefined }, devNull).child({ component: 'app', stream: 'stdout' });
  let started = performance.now();
  for (let i = 0; i < lines; i++) logger.info(LINE);
  const pinoMs = performance.now() - started;
  const formatter = new LineFormatter({ format: 'json', component: 'app', stream: 'stdout' });
  const chunk = Buffer.from(`${LINE}\n`.repeat(1000));
  const nullFd = openSync('/dev/null', 'w');
  started = performance.now();
  for (let i = 0; i < lines / 1000; i++) writeSync(nullFd, formatter.push(chunk, Date.now()));
  const formatterMs = performance.now() - started;
  closeSync(nullFd);
  return { pinoMs, formatterMs, lines };
}

// The last line is cut by `head -c`; the forwarder terminates it; concurrently adds an exit message.
const lineCount = Math.ceil(bytes / (LINE.length + 1));
const unterminated = bytes % (LINE.length + 1) === 0 ? 0 : 1;
const corralSize = bytes + lineCount * 'app | '.length + unterminated;
const contenders = [
  { name: 'cat', measure: () => cat(bytes), sizeOk: (size: number) => size === bytes },
  {
    name: 'Corral, OutputPipe',
    measure: () => corral(bytes, 'pipe'),
    sizeOk: (s: number) => s === corralSize,
  },
  {
    name: 'Corral, OutputPipe, lines kept for `corral logs` (as `corral run` does)',
    measure: () => corral(bytes, 'pipe', 'prefixed', true),
    sizeOk: (s: number) => s === corralSize,
  },
  {
    name: "Corral, stdio 'pipe'",
    measure: () => corral(bytes, 'readable'),
    sizeOk: (s: number) => s === corralSize,
  },
  {
    name: 'Node reading alone (OutputPipe, output discarded)',
    measure: () => corral(bytes, 'pipe', 'discard'),
    sizeOk: (s: number) => s === 0,
  },
  {
    name: 'concurrently',
    measure: () => concurrently(bytes),
    sizeOk: (s: number) => s >= bytes + lineCount * '[app] '.length,
  },
] as const;

const load0 = loadavg();
console.log(
  `log throughput: ${values.mb} MB, ${rounds} rounds, ${cpus().length} CPUs, load ${fmtLoad(load0)}`,
);
const samples = contenders.map((): Sample[] => []);
const startups: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const line: string[] = [];
  for (const [i, contender] of contenders.entries()) {
    const sample = await contender.measure();
    samples[i]?.push(sample);
    line.push(`${contender.name} ${fmtMs(sample.ms)}`);
  }
  startups.push(await run(['node', '-e', '0'], join(dir, 'node.out')));
  console.log(`round ${round}: ${line.join(', ')}`);
}

const catSamples = samples[0] ?? [];
const catMs = median(catSamples.map((s) => s.ms));
const rows = contenders.map((contender, i) => {
  const own = samples[i] ?? [];
  const ms = median(own.map((s) => s.ms));
  const perRound = own.map((s, r) => (catSamples[r]?.ms ?? 0) / s.ms);
  const rss = Math.max(...own.map((s) => s.rssKb ?? 0));
  const sizes = [...new Set(own.map((s) => s.outBytes))];
  const sizeNote = sizes.every(contender.sizeOk) ? 'ok' : `unexpected: ${sizes.join(', ')} bytes`;
  return (
    `| ${contender.name} | ${fmtMs(ms)} | ${fmtMs(Math.min(...own.map((s) => s.ms)))} | ` +
    `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s | ${(catMs / ms).toFixed(2)}x | ` +
    `${median(perRound).toFixed(2)}x | ${rss ? fmtRss(rss) : 'n/a'} | ${sizeNote} |`
  );
});

// Memory against volume: peak RSS at a quarter, the full and four times the volume.
const memory: string[] = [];
let startRss: number | undefined;
for (const n of [bytes / 4, bytes, bytes * 4]) {
  const k = await corral(n, 'pipe');
  const q = await concurrently(n);
  startRss ??= k.rssBeforeKb;
  const growth = k.rssKb !== undefined && k.rssBeforeKb !== undefined ? k.rssKb - k.rssBeforeKb : undefined;
  memory.push(`| ${n / 1e6} MB | ${fmtRss(k.rssKb)} | ${fmtRss(growth)} | ${fmtRss(q.rssKb)} |`);
}

const other: string[] = [];
for (const format of ['raw', 'json']) {
  const k = await corral(bytes, 'pipe', format);
  other.push(
    `| ${format} | ${fmtMs(k.ms)} | ${(bytes / 1e6 / (k.ms / 1000)).toFixed(0)} MB/s | ${fmtRss(k.rssKb)} |`,
  );
}
const json = jsonPerLine();
const load1 = loadavg();
rmSync(dir, { recursive: true, force: true });

const report = `# Log throughput

Command: \`node --import tsx bench/log-throughput.ts --mb ${values.mb} --rounds ${rounds}\`
(${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs, load average ${fmtLoad(load0)} at the start, ${fmtLoad(load1)} at the end).

A child writes ${values.mb} MB of 51-byte lines (\`yes '<50 characters>' | head -c ${bytes}\`); each contender writes
them into a new file. Each round runs every contender once, in turn; times are the median (and the best) of ${rounds}
rounds. "vs cat" is the throughput ratio, cat's median time over the contender's; "per round" is the median of
the same ratio taken within each round. Corral's time excludes Node's start-up (measured inside the process,
from creating the child's pipe to the last byte written); concurrently's includes it (\`node -e 0\` takes a
median of ${fmtMs(median(startups))} here). Output sizes are checked against the expected prefixed size.

| contender | median | best | throughput | vs cat | per round | peak RSS | output |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Peak RSS as the volume grows. Corral's process starts at about ${fmtRss(startRss)} (Node with the tsx loader's
worker); what forwarding adds does not grow with the volume, since nothing is kept once written:

| volume | Corral (OutputPipe), peak | Corral, growth while forwarding | concurrently, peak |
|---|---|---|---|
${memory.join('\n')}

Corral's other formats (one run each, OutputPipe, same writer and volume):

| format | time | throughput | peak RSS |
|---|---|---|---|
${other.join('\n')}

JSON records, formatting alone: pino (child logger, to /dev/null in 16 KiB writes) takes ${fmtMs(json.pinoMs)} for
${json.lines.toLocaleString('en')} lines; the forwarder's JSON formatter takes ${fmtMs(json.formatterMs)} for the same lines (in chunks of 1,000).
`;
if (values.out) writeFileSync(values.out, report);
console.log(`\n${report}`);
