import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHostPort } from '../../src/util/address.js';

test('host:port in its forms', { timeout: 10_000 }, () => {
  assert.deepEqual(parseHostPort('127.0.0.1:9902'), { host: '127.0.0.1', port: 9902 });
  assert.deepEqual(parseHostPort('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parseHostPort('db.internal-1.example:5432'), {
    host: 'db.internal-1.example',
    port: 5432,
  });
  assert.deepEqual(parseHostPort('[::1]:9902'), { host: '::1', port: 9902 });
  assert.deepEqual(parseHostPort('0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 });
  // Not RFC 1123, but what container platforms name services.
  assert.deepEqual(parseHostPort('app_db:5432'), { host: 'app_db', port: 5432 });
});

test('a port alone takes the default host, when there is one', { timeout: 10_000 }, () => {
  const options = { defaultHost: '127.0.0.1' };
  assert.deepEqual(parseHostPort('9902', options), { host: '127.0.0.1', port: 9902 });
  assert.deepEqual(parseHostPort(':9902', options), { host: '127.0.0.1', port: 9902 });
  assert.ok('problem' in parseHostPort('9902'));
  assert.ok('problem' in parseHostPort(':9902'));
});

test('port 0 only where the OS may choose', { timeout: 10_000 }, () => {
  assert.ok('problem' in parseHostPort('127.0.0.1:0'));
  assert.deepEqual(parseHostPort('127.0.0.1:0', { allowPortZero: true }), { host: '127.0.0.1', port: 0 });
});

test('what is not an address says why', { timeout: 10_000 }, () => {
  const cases: [string, RegExp][] = [
    ['localhost', /no port/],
    ['::1:80', /IPv6 address needs brackets/],
    ['[::zz]:80', /not an IPv6 address/],
    ['[127.0.0.1]:80', /not an IPv6 address/],
    ['host:http', /not a number/],
    ['host:', /not a number/],
    ['host:123456', /not a number/],
    ['host:70000', /between 1 and 65535/],
    ['-bad-:80', /neither an IP address nor a host name/],
    ['a b:80', /neither an IP address nor a host name/],
    ['http://x:80', /a URL; give host:port without a scheme/],
  ];
  for (const [text, why] of cases) {
    const result = parseHostPort(text);
    assert.ok('problem' in result, text);
    assert.match(result.problem, why, text);
  }
});
