import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { countFromCommand, countOverHttp, parseCount } from '../../src/drain/connections.js';
import { ConnectionsProbeError } from '../../src/drain/errors.js';
import { isGone, testServer, waitFor } from './helpers.js';

const node = process.execPath;
const never = new AbortController().signal;

test('parseCount accepts a non-negative integer and nothing else', () => {
  assert.equal(parseCount('0'), 0);
  assert.equal(parseCount(' 42\n'), 42);
  for (const bad of ['', '-1', '1.5', '3 connections', '0x10', '1e3', 'NaN']) {
    assert.equal(parseCount(bad), undefined, bad);
  }
});

test('exec probe: the count a real command prints, without a shell', { timeout: 20_000 }, async () => {
  assert.equal(await countFromCommand([node, '-e', 'process.stdout.write("7\\n")'], never), 7);
  // A shell would expand this; without one it reaches the program verbatim.
  assert.equal(
    await countFromCommand([node, '-e', 'console.log(process.argv[1].length)', '$HOME;*'], never),
    7,
  );
});

test('exec probe failures name the program only, never its arguments', { timeout: 20_000 }, async () => {
  const cases: [string[], RegExp][] = [
    [[node, '-e', 'console.log("many")', 'token=s3cret'], /did not print a count/],
    [[node, '-e', 'process.exit(3)', 'token=s3cret'], /exited with code 3/],
    [['/nonexistent/probe', 'token=s3cret'], /could not run: BINARY_NOT_FOUND/],
  ];
  for (const [argv, message] of cases) {
    await assert.rejects(countFromCommand(argv, never), (error: unknown) => {
      assert.ok(error instanceof ConnectionsProbeError);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  }
});

test('exec probe: an abort kills the command and everything it started', { timeout: 20_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'corral-probe-'));
  try {
    const pids = join(dir, 'pids');
    // Starts a grandchild that holds stdout, records both pids, then hangs.
    const script = `
      const { spawn } = require('node:child_process');
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
      require('node:fs').writeFileSync(${JSON.stringify(pids)}, process.pid + ' ' + g.pid);
      setInterval(() => {}, 1000);`;
    const controller = new AbortController();
    const probing = countFromCommand([node, '-e', script], controller.signal);
    await waitFor('the probe to record its pids', () => {
      try {
        return readFileSync(pids, 'utf8').includes(' ');
      } catch {
        return false;
      }
    });
    const [child, grandchild] = readFileSync(pids, 'utf8').split(' ').map(Number) as [number, number];
    assert.ok(!isGone(child) && !isGone(grandchild));
    controller.abort(new Error('drain skipped'));
    await assert.rejects(probing, /drain skipped/);
    await waitFor('the probe and its grandchild to be gone', () => isGone(child) && isGone(grandchild), 5000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'http probe: the count in a 2xx body; anything else fails without leaking credentials',
  { timeout: 20_000 },
  async () => {
    let next = { status: 200, body: '5\n' };
    const server = await testServer(() => next);
    try {
      const url = `${server.url.replace('http://', 'http://probe:pa55word@')}/connections`;
      assert.equal(await countOverHttp(url, never), 5);
      assert.equal(
        server.received[0]?.headers.authorization,
        `Basic ${Buffer.from('probe:pa55word').toString('base64')}`,
      );

      for (const [answer, message] of [
        [{ status: 500, body: '5' }, /answered 500/],
        [{ status: 200, body: 'five' }, /did not answer with a count/],
      ] as const) {
        next = answer;
        await assert.rejects(countOverHttp(url, never), (error: unknown) => {
          assert.ok(error instanceof ConnectionsProbeError);
          assert.match(error.message, message);
          assert.match(error.message, /http:\/\/\*\*\*@127\.0\.0\.1/);
          assert.doesNotMatch(error.message, /pa55word/);
          return true;
        });
      }
    } finally {
      await server.close();
    }
    await assert.rejects(countOverHttp('http://u:pa55word@127.0.0.1:1/c', never), (error: unknown) => {
      assert.ok(error instanceof ConnectionsProbeError);
      assert.match(error.message, /ECONNREFUSED/);
      assert.doesNotMatch(error.message, /pa55word/);
      return true;
    });
  },
);
