/**
 * Log throughput: a child writes `--mb` MB of 51-byte lines (`yes '<50 characters>' | head -c N`).
 * Compared in the same run, round by round (so that a busy machine hurts every contender alike):
 *
 * - `cat`: the same stream piped through `cat` into a file, the floor;
 * - Corral: the child's stdout through `forwardOutput` with `app | ` prefixes into a file sink,
 *   in a Node process of its own (bench/log-forward.ts) so that its peak RSS is its own;
 * - concurrently 9 with its `[app]` prefixes, stdout redirected to a file.
 *
 * Times run from spawning the pipeline to its last byte written. Corral's is measured inside its
 * process, without Node's start-up; concurrently's is measured from outside and so includes Node's
 * start-up, shown on its own line for subtraction. Peak RSS: VmHWM-equivalent maxRSS reported by
 * the Corral process itself, and GNU time's %M for `cat` and concurrently.
 *
 *     node --import tsx bench/log-throughput.ts [--mb 200] [--rounds 5] [--out bench/results/log-throughput.md]
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
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
import { LineFormatter } from '../src/process/line-format.js';

const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 50 characters, 51 with the newline
const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string', default: join(root, 'bench/results/log-throughput.md') },
    writes: { type: 'string', default: 'sync' },
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
  readonly outBytes: number;
}

/** Runs `argv` with stdout into `file`; resolves with the wall time once it exited 0. */
function run(argv: readonly string[], file: string): Promise<{ ms: number }> {
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
      if (code === 0) resolve({ ms });
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

async function cat(n: number): Promise<Sample> {
  const out = join(dir, 'cat.out');
  const rssFile = join(dir, 'cat.rss');
  const timed = gnuTime ? `${gnuTime} -f %M -o ${rssFile} cat` : 'cat';
  const { ms } = await run(['sh', '-c', `${writer(n)} | ${timed}`], out);
  return { ms, rssKb: gnuTime ? readRss(rssFile) : undefined, outBytes: statSync(out).size };
}

async function corral(n: number, format = 'prefixed'): Promise<Sample> {
  const out = join(dir, 'corral.out');
  rmSync(out, { force: true }); // the forwarder appends
  await run(
    ['node', '--import', 'tsx', 'bench/log-forward.ts', String(n), out, format, values.writes],
    join(dir, 'corral.stdout'),
  );
  const report = JSON.parse(readFileSync(join(dir, 'corral.stdout'), 'utf8')) as {
    ms: number;
    maxRssKb: number;
  };
  return { ms: report.ms, rssKb: report.maxRssKb, outBytes: statSync(out).size };
}

async function concurrently(n: number): Promise<Sample> {
  const out = join(dir, 'concurrently.out');
  const rssFile = join(dir, 'concurrently.rss');
  const bin = join(root, 'node_modules/.bin/concurrently');
  const argv = [bin, '-n', 'app', writer(n)];
  const { ms } = await run(gnuTime ? [gnuTime, '-f', '%M', '-o', rssFile, ...argv] : argv, out);
  return { ms, rssKb: gnuTime ? readRss(rssFile) : undefined, outBytes: statSync(out).size };
}

async function nodeStartup(): Promise<number> {
  const { ms } = await run(['node', '-e', '0'], join(dir, 'node.out'));
  return ms;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const fmtMs = (ms: number): string => `${Math.round(ms)} ms`;
const fmtRss = (kb: number | undefined): string =>
  kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`;

/** pino's own per-line cost against the formatter's JSON, for the record format's design choice. */
function jsonPerLine(): { pinoMs: number; formatterMs: number; lines: number } {
  const lines = 500_000;
  // Buffered like the forwarder's writes (one write per 16 KiB, sonic-boom's largest), so that only formatting is compared.
  const devNull = pino.destination({ dest: '/dev/null', sync: true, minLength: 16 * 1024 - 1 });
  const logger = pino({ base: undefined }, devNull).child({ component: 'app', stream: 'stdout' });
  let started = performance.now();
  for (let i = 0; i < lines; i++) logger.info(LINE);
  const pinoMs = performance.now() - started;
  const formatter = new LineFormatter({ format: 'json', component: 'app', stream: 'stdout' });
  const chunk = Buffer.from(`${LINE}\n`.repeat(1000));
  started = performance.now();
  const nullFd = openSync('/dev/null', 'w');
  for (let i = 0; i < lines / 1000; i++) writeSync(nullFd, formatter.push(chunk, Date.now()));
  closeSync(nullFd);
  const formatterMs = performance.now() - started;
  return { pinoMs, formatterMs, lines };
}

const load0 = loadavg();
console.log(
  `log throughput: ${values.mb} MB of 51-byte lines, ${rounds} rounds, ${cpus().length} CPUs, load ${load0.map((l) => l.toFixed(2)).join(' ')}`,
);
const samples: Record<'cat' | 'corral' | 'concurrently', Sample[]> = {
  cat: [],
  corral: [],
  concurrently: [],
};
const ratios: number[] = [];
const startups: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const c = await cat(bytes);
  const k = await corral(bytes);
  const q = await concurrently(bytes);
  startups.push(await nodeStartup());
  samples.cat.push(c);
  samples.corral.push(k);
  samples.concurrently.push(q);
  ratios.push(c.ms / k.ms);
  console.log(
    `round ${round}: cat ${fmtMs(c.ms)}, corral ${fmtMs(k.ms)} (${(c.ms / k.ms).toFixed(2)}x of cat), concurrently ${fmtMs(q.ms)}`,
  );
}

// The last line is cut by `head -c`; the forwarder terminates it; concurrently adds an exit message.
const lineCount = Math.ceil(bytes / (LINE.length + 1));
const unterminated = bytes % (LINE.length + 1) === 0 ? 0 : 1;
const expected = {
  cat: (size: number) => size === bytes,
  corral: (size: number) => size === bytes + lineCount * 'app | '.length + unterminated,
  concurrently: (size: number) => size >= bytes + lineCount * '[app] '.length,
};
const rows: string[] = [];
const catMs = median(samples.cat.map((s) => s.ms));
for (const name of ['cat', 'corral', 'concurrently'] as const) {
  const ms = median(samples[name].map((s) => s.ms));
  const rss = Math.max(...samples[name].map((s) => s.rssKb ?? 0));
  const sizes = new Set(samples[name].map((s) => s.outBytes));
  const sizeNote = [...sizes].every(expected[name]) ? 'ok' : `unexpected: ${[...sizes].join(', ')} bytes`;
  rows.push(
    `| ${name} | ${fmtMs(ms)} | ${fmtMs(Math.min(...samples[name].map((s) => s.ms)))} | ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s | ${(catMs / ms).toFixed(2)}x | ${rss ? fmtRss(rss) : 'n/a'} | ${sizeNote} |`,
  );
}

// Memory against volume: the forwarder's peak RSS at a quarter, the full and twice the volume.
const volumes = [bytes / 4, bytes, bytes * 2];
const memory: string[] = [];
for (const n of volumes) {
  const k = await corral(n);
  const q = await concurrently(n);
  memory.push(`| ${n / 1e6} MB | ${fmtRss(k.rssKb)} | ${fmtRss(q.rssKb)} |`);
}

const other: string[] = [];
for (const format of ['raw', 'json']) {
  const k = await corral(bytes, format);
  other.push(
    `| ${format} | ${fmtMs(k.ms)} | ${(bytes / 1e6 / (k.ms / 1000)).toFixed(0)} MB/s | ${fmtRss(k.rssKb)} |`,
  );
}
const json = jsonPerLine();
const load1 = loadavg();
rmSync(dir, { recursive: true, force: true });

const report = `# Log throughput

Command: \`node --import tsx bench/log-throughput.ts --mb ${values.mb} --rounds ${rounds} --writes ${values.writes}\`
(${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} CPUs, load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end).

A child writes ${values.mb} MB of 51-byte lines (\`yes '<50 characters>' | head -c ${bytes}\`); each contender writes
them into a file. Rounds alternate the contenders; times are medians (and the best) of ${rounds} rounds; "vs cat" is
the throughput ratio (cat's median time / the contender's). Corral's time excludes Node's start-up (measured
inside the process, from spawn to last byte written); concurrently's includes it (node -e 0 takes a median of
${fmtMs(median(startups))} here). Output sizes are checked against the expected prefixed size.

| contender | median | best | throughput | vs cat | peak RSS | output |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Per-round ratio of Corral to cat: ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}x).

Peak RSS as the volume grows:

| volume | Corral | concurrently |
|---|---|---|
${memory.join('\n')}

Other formats (one run each, same writer and volume):

| format | time | throughput | peak RSS |
|---|---|---|---|
${other.join('\n')}

JSON records per line: pino (child logger, to /dev/null in 16 KiB writes) takes ${fmtMs(json.pinoMs)} for
${json.lines.toLocaleString('en')} lines; the forwarder's JSON formatter takes ${fmtMs(json.formatterMs)} for the same lines
(in chunks of 1,000).
`;
writeFileSync(values.out, report);
console.log(`\n${report}`);
