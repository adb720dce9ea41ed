/**
 * One forwarding run for bench/log-throughput.ts, in a process of its own so that its peak RSS
 * is its own: spawns the writer, forwards its stdout into a file, and prints
 * `{ ms, userMs, sysMs, rssBeforeKb, maxRssKb }` as JSON (RSS before forwarding, peak RSS). `ms` runs from making the child's pipe to the last
 * byte written (Node's start-up is not in it; the `cat` pipeline's time likewise starts at its
 * spawn).
 *
 *     node --import tsx bench/log-forward.ts <bytes> <file> [prefixed|json|raw|discard] [sync|async] [pipe|readable] [buffer]
 *
 * `sync` writes the file by descriptor (as Corral does), `async` through an fs.WriteStream. `pipe`
 * reads the child through an OutputPipe, `readable` through Node's `stdio: 'pipe'`. `buffer`: the
 * output is also kept in `corral logs`'s buffer of recent output, as `corral run` keeps it.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { LogBuffer } from '../src/control/log-buffer.js';
import { forwardOutput, type OutputFormat, OutputPipe, OutputSink } from '../src/output/forward.js';

const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 50 characters

const args = process.argv.slice(2);
const [bytes = '200000000', file = '/tmp/corral-bench.out', format = 'prefixed', writes = 'sync'] = args;
const via = args[4] ?? 'pipe';
const copy = args[5] === 'buffer' ? new LogBuffer().copyOf('app') : undefined;
const sink =
  writes === 'sync' ? OutputSink.openFile(file) : new OutputSink(createWriteStream(file), { owned: true });
const writer = ['sh', '-c', `yes '${LINE}' | head -c ${Number(bytes)}`] as const;

const rssBeforeKb = Math.round(process.memoryUsage.rss() / 1024);
const cpu = process.cpuUsage();
const start = performance.now();
let source: Readable | OutputPipe;
if (via === 'pipe') {
  const [pipe] = await OutputPipe.open(1);
  if (!pipe) throw new Error('no pipe');
  spawn(writer[0], writer.slice(1), { stdio: ['ignore', pipe.childEnd, 'inherit'] });
  pipe.releaseChildEnd();
  source = pipe;
} else {
  source = spawn(writer[0], writer.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
}
if (format === 'discard') {
  // Reading alone, no formatting or writing: what Node itself costs, for reference.
  await new Promise<void>((resolve) => {
    if (source instanceof OutputPipe)
      source.consume(
        () => true,
        () => resolve(),
      );
    else source.on('data', () => undefined).once('end', resolve);
  });
} else {
  await forwardOutput(source, {
    component: 'app',
    stream: 'stdout',
    format: format as OutputFormat,
    sink,
    ...(copy && { copy }),
  });
}
await sink.close();
const ms = performance.now() - start;
const used = process.cpuUsage(cpu);
const maxRssKb = process.resourceUsage().maxRSS;
process.stdout.write(
  `${JSON.stringify({ ms, userMs: used.user / 1000, sysMs: used.system / 1000, rssBeforeKb, maxRssKb, ...(process.env.CORRAL_BENCH_HEAP ? process.memoryUsage() : {}) })}\n`,
);
