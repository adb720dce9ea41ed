import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { signalGroupUnlessGone } from '../../src/util/process-group.js';
import { fixture, killPids, waitGone } from '../helpers/process.js';

test('a live group is signalled (true); a group with no process left is not an error (false)', async () => {
  const child = spawn(fixture('forever'), [], { detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  try {
    await once(child, 'spawn');
    assert.equal(signalGroupUnlessGone(pid, 'SIGKILL'), true);
    await once(child, 'exit');
    await waitGone([pid]);
    assert.equal(signalGroupUnlessGone(pid, 'SIGTERM'), false);
  } finally {
    killPids([pid]);
  }
});
