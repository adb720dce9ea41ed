import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  corednsComponent,
  generateCorefile,
  prepareCoredns,
  readyAddressIn,
} from '../../../src/presets/coredns/preset.js';
import { Isolation } from '../../../src/containment/isolation.js';
import type { CorralEvent } from '../../../src/events.js';
import { Manager } from '../../../src/core/manager.js';
import { isGone, waitFor } from '../../drain/helpers.js';
import { captureOutput } from '../../helpers/process.js';
import { corednsDouble, freePort, tempDir } from '../harness.js';

let isolation: Isolation;
before(async () => {
  isolation = await Isolation.create();
});
after(async () => {
  await isolation.close();
});

const defaults = {
  port: 15053,
  upstream: '127.0.0.1:15054',
  prometheusAddress: '127.0.0.1:19153',
  readyAddress: '127.0.0.1:8181',
};

test('the generated Corefile, exactly, without log', () => {
  assert.equal(
    generateCorefile({ ...defaults, log: false }),
    `.:15053 {
    forward . 127.0.0.1:15054
    alternate NXDOMAIN,SERVFAIL,REFUSED . /etc/resolv.conf
    prometheus 127.0.0.1:19153
    ready 127.0.0.1:8181
    errors
}
`,
  );
});

test('the generated Corefile, exactly, with log; addresses as the loader gives them, IPv6 bracketed', () => {
  assert.equal(
    generateCorefile({
      port: 5300,
      upstream: { host: '::1', port: 15054 },
      log: true,
      prometheusAddress: { host: '127.0.0.1', port: 9153 },
      readyAddress: { host: '127.0.0.2', port: 8181 },
    }),
    `.:5300 {
    forward . [::1]:15054
    alternate NXDOMAIN,SERVFAIL,REFUSED . /etc/resolv.conf
    prometheus 127.0.0.1:9153
    ready 127.0.0.2:8181
    errors
    log
}
`,
  );
});

test(
  'prepareCoredns writes the Corefile to the work dir (0600) and runs `coredns -conf <it> -quiet`',
  { timeout: 20_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const preset = await prepareCoredns({ name: 'dns', workDir: dir, log: true });
      const path = join(dir, 'dns', 'Corefile');
      assert.equal(preset.corefilePath, path);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal(await readFile(path, 'utf8'), generateCorefile({ ...defaults, log: true }));
      assert.deepEqual(preset.processOptions.command, ['coredns', '-conf', path, '-quiet']);
      assert.equal(preset.readyUrl, 'http://127.0.0.1:8181/ready');
    } finally {
      await cleanup();
    }
  },
);

test(
  'a given Corefile is used as is: its path, unchanged, and its own ready address',
  { timeout: 20_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const given = join(dir, 'Corefile');
      const text = '. {\n  whoami\n  ready :9191\n}\n';
      await writeFile(given, text);
      const preset = await prepareCoredns({
        name: 'dns',
        workDir: join(dir, 'work'),
        corefile: given,
        binary: '/opt/coredns',
      });
      assert.equal(preset.corefilePath, given);
      assert.equal(await readFile(given, 'utf8'), text);
      assert.deepEqual(preset.processOptions.command, ['/opt/coredns', '-conf', given, '-quiet']);
      assert.equal(preset.readyUrl, 'http://127.0.0.1:9191/ready');

      assert.equal(readyAddressIn('.:53 {\n    ready\n}\n'), '127.0.0.1:8181');
      assert.equal(readyAddressIn('.:53 {\n    ready [::1]:8181\n}\n'), '[::1]:8181');
      assert.equal(readyAddressIn('.:53 {\n    # ready 1.2.3.4:5\n    forward . 8.8.8.8\n}\n'), undefined);
      assert.equal(readyAddressIn('.:53 {\n    ready 0.0.0.0:8182 {\n    }\n}\n'), '127.0.0.1:8182');
      assert.equal(readyAddressIn('.:53 {\n    ready [::]:8183\n}\n'), '127.0.0.1:8183');
      assert.equal(readyAddressIn('.:53 {\n    ready localhost:8184\n}\n'), 'localhost:8184');
      const missing = await prepareCoredns({
        name: 'dns',
        workDir: dir,
        corefile: join(dir, 'Corefile2'),
      }).catch((error: unknown) => error);
      assert.match(String(missing), /ENOENT/);
    } finally {
      await cleanup();
    }
  },
);

/** Sends one DNS A query over UDP and resolves the first A record's address. */
function queryA(port: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const labels = name.split('.').flatMap((label) => [Buffer.from([label.length]), Buffer.from(label)]);
    const query = Buffer.concat([
      Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
      ...labels,
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no DNS answer within 3 s'));
    }, 3000);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      assert.equal(reply.readUInt16BE(0), 0x1234, 'answer id');
      assert.equal(reply.readUInt16BE(6), 1, 'one answer');
      resolve([...reply.subarray(reply.length - 4)].join('.'));
    });
    socket.send(query, port, '127.0.0.1');
  });
}

test(
  'the CoreDNS double through the preset: ready only when /ready says so, then it answers DNS; nothing left',
  { timeout: 30_000 },
  async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const port = await freePort();
      const preset = await prepareCoredns({
        name: 'dns',
        workDir: dir,
        binary: corednsDouble,
        port,
        prometheusAddress: `127.0.0.1:${await freePort()}`,
        readyAddress: `127.0.0.1:${await freePort()}`,
      });
      const argvFile = join(dir, 'argv.json');
      const component = corednsComponent(preset, {
        isolation,
        output: captureOutput().target,
        env: { COREDNS_DOUBLE_ARGV_FILE: argvFile, COREDNS_DOUBLE_READY_AFTER_MS: '800' },
      });
      const manager = new Manager();
      const events: CorralEvent[] = [];
      manager.on((event) => events.push(event));
      manager.add(component);
      const stop = new AbortController();
      const running = manager.run(stop.signal);
      const startedAt = performance.now();
      await waitFor('the stack to be ready', () => manager.ready(), 15_000);
      assert.ok(performance.now() - startedAt >= 700, 'ready before /ready answered 200');
      assert.deepEqual(JSON.parse(readFileSync(argvFile, 'utf8')), ['-conf', preset.corefilePath, '-quiet']);
      assert.equal(await queryA(port, 'backend.mesh'), '10.53.0.1');

      stop.abort();
      await running;
      const pid = events.find((e) => e.type === 'process.spawned')?.pid ?? 0;
      await waitFor('coredns to be gone', () => isGone(pid), 2000);
    } finally {
      await cleanup();
    }
  },
);
