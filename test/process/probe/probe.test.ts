import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, type TestContext, test } from 'node:test';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { forwardOutput, LineTap, OutputSink } from '../../../src/output/forward.js';
import {
  InvalidProbeError,
  ProbeCommandError,
  ProbeTimeoutError,
  type ReadinessProbe,
  validateProbe,
  waitUntilReady,
} from '../../../src/process/probe/probe.js';
import { prepare } from '../../../src/process/probe/spec.js';
import { isAlive } from '../../../src/containment/liveness.js';
import { waitUntil } from '../../helpers/process.js';

/** `probe` described for people, URLs redacted, as errors name it. */
const describeProbe = (probe: ReadinessProbe): string => prepare(probe, {}).description;
const fixture = (name: string): string => new URL(`../../fixtures/${name}`, import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'corral-probe-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Generous for a busy 2-core machine; the shared poll is test/process/support.ts's. */
const waitFor = (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
  waitUntil(condition, what, timeoutMs);

/**
 * An HTTP server on 127.0.0.1 answering with `statuses[n]` to the n-th request (the last repeats),
 * closed when the test ends, whatever its outcome.
 */
async function httpServer(
  t: TestContext,
  statuses: readonly (number | 'hang')[],
): Promise<{ server: Server; url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createHttpServer((request, response) => {
    requests.push(request);
    const status = statuses[Math.min(requests.length, statuses.length) - 1] ?? 200;
    if (status === 'hang') return; // never answers
    response.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { server, url: `http://127.0.0.1:${port}`, requests };
}

/** A port nothing listens on: bound by the OS, then released. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Generous: on a busy machine starting bash alone can take a few hundred milliseconds.
const timing = { interval: 20, timeout: 1500, attemptTimeout: 1000 };
// Probe commands start bash or sh: allow for a machine busy enough to take seconds over it.
const execTiming = { interval: 200, timeout: 6000, attemptTimeout: 5000 };

test('http passes once the server answers 2xx', { timeout: 20_000 }, async (t) => {
  const { url, requests } = await httpServer(t, [503, 503, 200]);
  await waitUntilReady({ http: `${url}/healthz`, ...timing, timeout: 10_000 }, { component: 'app' });
  assert.equal(requests.length, 3);
  const [first] = requests;
  assert.ok(first);
  assert.equal(first.method, 'GET');
  assert.equal(first.url, '/healthz');
});

test('http times out naming the probe and its last answer', { timeout: 20_000 }, async (t) => {
  const { url, requests } = await httpServer(t, [503]);
  const error = await waitUntilReady({ http: `${url}/healthz`, ...timing }, { component: 'app' }).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ProbeTimeoutError);
  assert.equal(error.code, 'READY_TIMEOUT');
  assert.equal(
    error.message,
    `component \`app\` was not ready within 1.5s: GET ${url}/healthz last answered 503`,
  );
  assert.equal(error.lastFailure, 'answered 503');
  // The interval spaces attempts out: no more than one per interval.
  assert.ok(
    requests.length >= 2 && requests.length <= timing.timeout / timing.interval + 1,
    `${requests.length} requests`,
  );
});

test(
  'http with an expected status fails on any other, and a hung server fails each attempt',
  { timeout: 20_000 },
  async (t) => {
    const wrong = await httpServer(t, [200]);
    await assert.rejects(waitUntilReady({ http: wrong.url, status: 204, ...timing }, { component: 'app' }), {
      message: `component \`app\` was not ready within 1.5s: GET ${wrong.url}/ last answered 200 (expected 204)`,
    });
    const hung = await httpServer(t, ['hang']);
    await assert.rejects(
      waitUntilReady({ http: hung.url, ...timing, attemptTimeout: 200 }, { component: 'app' }),
      {
        message: `component \`app\` was not ready within 1.5s: GET ${hung.url}/ last failed: timed out after 200ms`,
      },
    );
    // Each attempt closed its connection when it gave up.
    await waitFor(
      () => hung.requests.every((request) => request.socket.destroyed),
      'attempt sockets to close',
    );
    assert.ok(hung.requests.length >= 2);
  },
);

test('http credentials are sent but never shown', { timeout: 20_000 }, async (t) => {
  const { url, requests } = await httpServer(t, [401]);
  const secretUrl = url.replace('http://', 'http://ops:s3cr%3At@') + '/admin?token=t0ken#frag';
  const error = await waitUntilReady({ http: secretUrl, ...timing }, { component: 'app' }).then(
    () => assert.fail('resolved'),
    (e: unknown) => e as ProbeTimeoutError,
  );
  assert.equal(requests[0]?.headers.authorization, `Basic ${Buffer.from('ops:s3cr:t').toString('base64')}`);
  assert.equal(error.probe, `GET ${url.replace('http://', 'http://***@')}/admin?token=***#***`);
  for (const text of [
    error.message,
    error.probe,
    JSON.stringify(error),
    describeProbe({ http: secretUrl }),
  ]) {
    assert.doesNotMatch(text, /s3cr|ops|t0ken|frag/);
  }
  // A refused connection's message does not carry them either.
  const port = await freePort();
  await assert.rejects(
    waitUntilReady({ http: `http://ops:s3cret@127.0.0.1:${port}/`, ...timing }, { component: 'app' }),
    (e: ProbeTimeoutError) => /ECONNREFUSED/.test(e.message) && !/s3cret|ops/.test(e.message),
  );
  // Nor does a URL the parser rejects, nor exec arguments and their stderr.
  assert.throws(
    () => validateProbe({ http: 'http://ops:s3cret@[bad/' }),
    (e: InvalidProbeError) => !/s3cret/.test(e.message),
  );
  const exec = {
    exec: ['sh', '-c', 'echo "no route to postgres://ops:s3cret@db/x" >&2; exit 2'],
    ...execTiming,
  };
  assert.equal(describeProbe(exec), '`sh -c echo "no route to postgres://***@db/x" >&2; exit 2`');
  await assert.rejects(
    waitUntilReady(exec, { component: 'db' }),
    (e: ProbeTimeoutError) =>
      e.lastFailure === 'exited with code 2 (stderr: no route to postgres://***@db/x)',
  );
});

test(
  'tcp passes when a server listens and times out naming the refused address',
  { timeout: 20_000 },
  async () => {
    const server = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await waitUntilReady({ tcp: `127.0.0.1:${port}`, ...timing }, { component: 'db' });
    await waitUntilReady({ tcp: { host: '127.0.0.1', port }, ...timing }, { component: 'db' });
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(waitUntilReady({ tcp: `127.0.0.1:${port}`, ...timing }, { component: 'db' }), {
      code: 'READY_TIMEOUT',
      message: `component \`db\` was not ready within 1.5s: TCP connect 127.0.0.1:${port} last failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  },
);

test(
  'exec passes on the first run that exits 0 and reports the last failure otherwise',
  { timeout: 20_000 },
  async () => {
    const counter = join(dir, 'count');
    await waitUntilReady(
      { exec: [fixture('probe-counter'), counter, '3'], ...execTiming, timeout: 20_000 },
      { component: 'app' },
    );
    assert.equal(readFileSync(counter, 'utf8').trim(), '3');
    const never = join(dir, 'never');
    await assert.rejects(
      waitUntilReady(
        { exec: [fixture('probe-counter'), never, '1000'], ...execTiming },
        { component: 'app' },
      ),
      {
        message: new RegExp(
          `^component \`app\` was not ready within 6s: \`.*probe-counter ${never} 1000\` last exited with code 1 \\(stderr: not yet \\d+\\)$`,
        ),
      },
    );
  },
);

test(
  'exec that overruns its attempt timeout is killed with its whole process group',
  { timeout: 20_000 },
  async () => {
    const pidFile = join(dir, 'hang-pids');
    const probe: ReadinessProbe = {
      exec: [fixture('probe-hang'), pidFile],
      interval: 10_000,
      timeout: 5_000,
      attemptTimeout: 300,
    };
    const controller = new AbortController();
    const waiting = waitUntilReady(probe, { component: 'app', signal: controller.signal });
    // The first attempt times out and is killed; the wait then pauses for the interval.
    await waitFor(() => {
      try {
        return readFileSync(pidFile, 'utf8').includes(' ');
      } catch {
        return false;
      }
    }, 'the probe command to start');
    const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    assert.equal(pids.length, 2);
    await waitFor(
      () => pids.every((pid) => !isAlive(pid)),
      'the probe command and its background sleep to be killed',
      5_000,
    );
    controller.abort(new Error('test over'));
    await assert.rejects(waiting, /test over/);
  },
);

test(
  'negative control: killing only the probe command would leave its background process',
  { timeout: 20_000 },
  async () => {
    const pidFile = join(dir, 'control-pids');
    const child = spawn(fixture('probe-hang'), [pidFile], { detached: true, stdio: 'ignore' });
    await waitFor(() => {
      try {
        return readFileSync(pidFile, 'utf8').includes(' ');
      } catch {
        return false;
      }
    }, 'the command to start');
    const [leader = 0, background = 0] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    child.kill('SIGKILL');
    await waitFor(() => !isAlive(leader), 'the leader to die');
    assert.ok(isAlive(background), 'the background sleep outlived its parent');
    process.kill(-leader, 'SIGKILL');
    await waitFor(() => !isAlive(background), 'the background sleep to be killed');
  },
);

test(
  'exec leaves nothing running after it passes, runs where and how it is told, and reports its group',
  { timeout: 20_000 },
  async () => {
    const pidFile = join(dir, 'left-behind');
    const script = `[ "$PWD" = "${dir}" ] && [ "$PROBE_MARK" = prefixed ] && [ -z "$HOME" ] || exit 3
(exec -a probe-bg-sleep sleep 1000) & echo $! > ${pidFile}; exit 0`;
    const tracked: string[] = [];
    await waitUntilReady(
      { exec: ['bash', '-c', script], ...execTiming },
      {
        component: 'app',
        exec: {
          cwd: dir,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
          containment: {
            prefix: ['env', 'PROBE_MARK=prefixed'],
            trackGroup: (pgid) => {
              tracked.push(`+${pgid}`);
              return () => tracked.push(`-${pgid}`);
            },
          },
        },
      },
    );
    const background = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !isAlive(background), 'the background process the probe left to be killed');
    assert.equal(tracked.length, 2);
    assert.equal(tracked[1], tracked[0]?.replace('+', '-'));
  },
);

test(
  'exec with a missing command fails at once, without waiting for the deadline',
  { timeout: 20_000 },
  async () => {
    const started = Date.now();
    await assert.rejects(
      waitUntilReady(
        {
          exec: ['/nonexistent/corral-probe', '--token=s3cr3t-arg', 'http://ops:s3cret@db/?key=k3y'],
          timeout: 60_000,
        },
        { component: 'app' },
      ),
      (e: ProbeCommandError) => {
        assert.equal(e.code, 'PROBE_COMMAND');
        // The message and its stack name the program only: arguments may carry tokens.
        assert.match(
          e.message,
          /^readiness probe command `\/nonexistent\/corral-probe` could not be started/,
        );
        assert.doesNotMatch(`${e.message}\n${e.stack ?? ''}`, /s3cr3t-arg|s3cret|k3y/);
        // The field keeps every argument, URLs redacted.
        assert.deepEqual(e.command, [
          '/nonexistent/corral-probe',
          '--token=s3cr3t-arg',
          'http://***@db/?key=***',
        ]);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000);
  },
);

test('log passes on the first matching output line of a real child', { timeout: 20_000 }, async () => {
  const child = spawn(
    'bash',
    ['-c', 'echo starting; sleep 0.2; echo "listening on :8080" >&2; exec sleep 30'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines = new LineTap();
  const sink = new OutputSink(new Writable({ write: (_c, _e, callback) => callback() }));
  const forwarded = [child.stdout, child.stderr].map((source, i) =>
    forwardOutput(source, {
      component: 'app',
      stream: i === 0 ? 'stdout' : 'stderr',
      format: 'prefixed',
      sink,
      lines,
    }),
  );
  await waitUntilReady({ log: 'listening on :\\d+', timeout: 10_000 }, { component: 'app', lines });
  assert.equal(lines.watched, false, 'the probe stopped watching');
  child.kill('SIGKILL');
  await Promise.all(forwarded);
  assert.ok(child.pid !== undefined);
  await waitFor(() => !isAlive(child.pid ?? 0), 'the child to exit');
});

test('log times out on the clock, saying how many lines it saw', { timeout: 20_000 }, async () => {
  const clock = new ManualClock();
  const lines = new LineTap();
  // Handled at once: it rejects while the clock is being advanced.
  const waiting = waitUntilReady(
    { log: /^ready$/, timeout: 30_000 },
    { component: 'web', lines, clock },
  ).then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  let settled = false;
  void waiting.finally(() => (settled = true));
  lines.publish('booting', 'stdout');
  lines.publish('not ready', 'stderr');
  await clock.advance(29_999);
  assert.equal(settled, false, 'still waiting just before the deadline');
  lines.publish('still booting', 'stdout');
  await clock.advance(1);
  const error = await waiting;
  assert.ok(error instanceof ProbeTimeoutError);
  assert.equal(
    error.message,
    'component `web` was not ready within 30s: no output line matched /^ready$/ (saw 3 lines)',
  );
  assert.equal(lines.watched, false);
  assert.equal(clock.pendingSleeps, 0);
});

test(
  'without timing, a probe waits as the stack file says it does: every 250ms, for 60s',
  { timeout: 30_000 },
  async () => {
    const clock = new ManualClock();
    const port = await freePort();
    let failures = 0;
    const state = { settled: false };
    const waiting = waitUntilReady(
      { tcp: `127.0.0.1:${port}` },
      { component: 'db', clock, onFailedAttempt: () => failures++ },
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    void waiting.finally(() => (state.settled = true));
    await waitFor(() => failures === 1, 'the first attempt to fail');
    await clock.advance(249);
    assert.equal(failures, 1, 'no second attempt before the interval');
    await clock.advance(1);
    await waitFor(() => failures === 2, 'the second attempt');
    while (!state.settled) {
      const before = failures;
      await clock.advance(250);
      await waitFor(() => failures > before || state.settled, `an attempt after ${clock.now()}ms`);
    }
    const error = await waiting;
    assert.ok(error instanceof ProbeTimeoutError);
    assert.equal(error.timeoutMs, 60_000);
    assert.equal(clock.now(), 60_000);
  },
);

test('aborting stops every kind of probe at once', { timeout: 30_000 }, async (t) => {
  const hung = await httpServer(t, ['hang']);
  const pidFile = join(dir, 'abort-pids');
  const listening = createTcpServer();
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const probes: ReadinessProbe[] = [
    { http: hung.url, timeout: 60_000, attemptTimeout: 60_000 },
    { tcp: `127.0.0.1:${port}`, timeout: 60_000, interval: 60_000 },
    { exec: [fixture('probe-hang'), pidFile], timeout: 60_000, attemptTimeout: 60_000 },
    { log: 'never', timeout: 60_000 },
  ];
  for (const probe of probes) {
    const controller = new AbortController();
    const waiting = waitUntilReady(probe, {
      component: 'app',
      signal: controller.signal,
      lines: new LineTap(),
    });
    if ('http' in probe) await waitFor(() => hung.requests.length > 0, 'the request');
    if ('exec' in probe)
      await waitFor(
        () => readFileSync(pidFile, { flag: 'a+', encoding: 'utf8' }).includes(' '),
        'the command',
      );
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the tcp attempt fail and park in its interval
    const started = Date.now();
    controller.abort(new Error('stop now'));
    await assert.rejects(waiting, /stop now/);
    assert.ok(Date.now() - started < 2_000, `${describeProbe(probe)} took ${Date.now() - started}ms to stop`);
  }
  const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
  await waitFor(() => pids.every((pid) => !isAlive(pid)), 'the aborted probe command group to be gone');
  await waitFor(
    () => hung.requests.every((request) => request.socket.destroyed),
    'the aborted request to close',
  );
  await new Promise((resolve) => listening.close(resolve));
});

test('validateProbe rejects probes that cannot work, naming the field', () => {
  const invalid: [unknown, string][] = [
    [{}, 'probe'],
    [{ http: 'http://a/', tcp: 'a:1' }, 'probe'],
    [{ http: 'not a url' }, 'http'],
    [{ http: 'ftp://host/' }, 'http'],
    [{ http: 'http://host/', status: 42 }, 'status'],
    [{ tcp: 'host' }, 'tcp'],
    [{ tcp: 'host:0' }, 'tcp'],
    [{ tcp: 'host:70000' }, 'tcp'],
    [{ tcp: { host: 'db', port: 0 } }, 'tcp'],
    [{ tcp: { host: '', port: 5432 } }, 'tcp'],
    [{ exec: [] }, 'exec'],
    [{ exec: 'pg_isready' }, 'exec'],
    [{ log: '(' }, 'log'],
    [{ log: 'x', timeout: -1 }, 'timeout'],
    [{ log: 'x', interval: Number.NaN }, 'interval'],
  ];
  for (const [probe, field] of invalid) {
    assert.throws(
      () => validateProbe(probe as ReadinessProbe),
      (e: { code?: unknown; field?: unknown }) => e.code === 'INVALID_PROBE' && e.field === field,
      JSON.stringify(probe),
    );
  }
  validateProbe({ tcp: '[::1]:5432' });
  assert.equal(describeProbe({ tcp: 'db:5432' }), 'TCP connect db:5432');
  // The stack file's form of the same address.
  assert.equal(describeProbe({ tcp: { host: 'db', port: 5432 } }), 'TCP connect db:5432');
  assert.equal(describeProbe({ tcp: { host: '::1', port: 5432 } }), 'TCP connect [::1]:5432');
  assert.equal(describeProbe({ log: 'ready' }), 'output matching /ready/');
});
