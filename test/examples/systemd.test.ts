import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, get, scratch } from '../helpers/cli.js';
import { notifiedRun } from '../helpers/notify-receiver.js';

const STACK = fileURLToPath(new URL('../../examples/systemd/corral.yaml', import.meta.url));

test(
  'examples/systemd: the stack the unit runs reports READY=1 once the proxy answers, and STOPPING=1 on SIGTERM',
  { timeout: 60_000 },
  async () => {
    const s = scratch();
    const address = join(s.dir, 'notify');
    const ports = {
      READY_PORT: await freePort(),
      APP_PORT: await freePort(),
      PROXY_PORT: await freePort(),
      PROXY_ADMIN_PORT: await freePort(),
    };
    await notifiedRun(
      s,
      address,
      STACK,
      Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      async (corral, receiver) => {
        await receiver.waitFor('READY=1');
        assert.equal((await get(`http://127.0.0.1:${ports.PROXY_PORT}/`)).status, 200);
        corral.signal('SIGTERM');
        assert.equal(await corral.exited, 0, corral.stderr);
        const fields = receiver.datagrams().flatMap((d) => d.fields);
        assert.ok(fields.indexOf('STOPPING=1') > fields.indexOf('READY=1'), JSON.stringify(fields));
        assert.ok(fields.includes('STATUS=draining proxy'), JSON.stringify(fields));
        assert.equal(fields.filter((f) => f.startsWith('STATUS=')).at(-1), 'STATUS=stopped');
      },
    );
  },
);
