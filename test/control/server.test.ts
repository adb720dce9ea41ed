import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ask } from '../../src/control/client.js';
import { ControlServer, type ControlHandler } from '../../src/control/server.js';
import { InvalidStackError } from '../../src/core/errors.js';

const T = { timeout: 20_000 };

function dir(t: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), 'corral-control-'));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

const echo: ControlHandler = (request) => {
  if (request.cmd === 'start') throw new InvalidStackError('UNKNOWN_COMPONENT', 'there is no component `x`');
  return Promise.resolve({ cmd: request.cmd });
};

test('serves requests on a 0600 socket in a 0700 directory it makes; close removes it', T, async (t) => {
  const socket = join(dir(t), 'sub', 'c.sock');
  const server = await ControlServer.listen(socket, echo);
  assert.equal((statSync(socket).mode & 0o777).toString(8), '600');
  assert.equal((statSync(join(socket, '..')).mode & 0o777).toString(8), '700');
  assert.deepEqual(await ask(socket, { cmd: 'status' }), { cmd: 'status' });
  await assert.rejects(ask(socket, { cmd: 'start', names: ['x'] }), { code: 'UNKNOWN_COMPONENT' });
  await server.close();
  await server.close();
  assert.equal(existsSync(socket), false);
  await assert.rejects(ask(socket, { cmd: 'status' }), { code: 'NOT_RUNNING' });
});

test(
  'an oversized request gets an error and the connection is closed; the server serves on',
  T,
  async (t) => {
    const socket = join(dir(t), 'c.sock');
    const server = await ControlServer.listen(socket, echo);
    t.after(() => server.close());
    const client = connect(socket);
    client.setEncoding('utf8');
    let answer = '';
    client.on('data', (chunk: string) => (answer += chunk));
    const closed = once(client, 'close');
    client.on('error', () => undefined);
    client.write('x'.repeat(200 * 1024));
    await closed;
    assert.equal((JSON.parse(answer) as { error: { code: string } }).error.code, 'REQUEST_TOO_LARGE');
    assert.deepEqual(await ask(socket, { cmd: 'status' }), { cmd: 'status' });
  },
);

test('close ends idle connections at once', T, async (t) => {
  const socket = join(dir(t), 'c.sock');
  const server = await ControlServer.listen(socket, echo);
  const idle = connect(socket);
  await once(idle, 'connect');
  const closed = once(idle, 'close');
  await server.close();
  await closed;
});

test('a stale socket file is replaced; a served one is refused', T, async (t) => {
  const base = dir(t);
  const socket = join(base, 'c.sock');
  // A socket file left behind by a run that was killed.
  const killed = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(killed.stdout, 'data');
  killed.kill('SIGKILL');
  await once(killed, 'exit');
  assert.ok(existsSync(socket), 'the stale file is there');
  const server = await ControlServer.listen(socket, echo);
  t.after(() => server.close());
  assert.deepEqual(await ask(socket, { cmd: 'status' }), { cmd: 'status' });
  await assert.rejects(ControlServer.listen(socket, echo), { code: 'CONTROL_SOCKET_IN_USE' });
});

test('a directory others may enter is refused, and left as it was', T, async (t) => {
  const open = dir(t);
  chmodSync(open, 0o755);
  await assert.rejects(ControlServer.listen(join(open, 'c.sock'), echo), {
    code: 'CONTROL_SOCKET_UNUSABLE',
    message: /mode 755/,
  });
  assert.equal((statSync(open).mode & 0o777).toString(8), '755');
});
