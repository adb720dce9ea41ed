/**
 * One forwarding run for bench/log-throughput.ts, in a process of its own so that its peak RSS
 * is its own: spawns the writer, forwards its stdout with name prefixes into a file, and prints
 * `{ ms, maxRssKb }` as JSON. `ms` runs from the spawn to the last byte written (Node's start-up
 * is not in it; the same holds for the `cat` pipeline it is compared with).
 *
 *     node --import tsx bench/log-forward.ts <bytes> <file> [prefixed|json|raw] [async|sync]
 */
import { spawn } from 'node:child_process';
import { forwardOutput, OutputSink, type OutputFormat } from '../src/process/output.js';

export const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 50 characters

const [bytes = '200000000', file = '/tmp/corral-bench.out', format = 'prefixed', writes = 'async'] =
  process.argv.slice(2);
const sink = OutputSink.openFile(file, { sync: writes === 'sync' });
const cpu = process.cpuUsage();
const start = performance.now();
const child = spawn('sh', ['-c', `yes '${LINE}' | head -c ${Number(bytes)}`], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await forwardOutput(child.stdout, {
  component: 'app',
  stream: 'stdout',
  format: format as OutputFormat,
  sink,
});
await sink.close();
const ms = performance.now() - start;
const used = process.cpuUsage(cpu);
process.stdout.write(
  `${JSON.stringify({ ms, userMs: used.user / 1000, sysMs: used.system / 1000, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
