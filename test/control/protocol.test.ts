import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorReply, parseRequest } from '../../src/control/protocol.js';
import { InvalidStackError } from '../../src/core/errors.js';

const errorOf = (line: string) => {
  const parsed = parseRequest(line);
  assert.ok('error' in parsed, `expected an error for ${line}`);
  return [parsed.id, parsed.error.code];
};

test('a well-formed request is read, with its defaults', () => {
  assert.deepEqual(parseRequest('{"v":1,"id":"a","cmd":"logs","names":["app"]}'), {
    id: 'a',
    request: { cmd: 'logs', names: ['app'], lines: 100, follow: false },
  });
  assert.deepEqual(parseRequest('{"v":1,"id":2,"cmd":"stop"}'), {
    id: 2,
    request: { cmd: 'stop', names: [] },
  });
});

test('malformed, unknown and other-version requests are errors naming what is wrong, never throws', () => {
  assert.deepEqual(errorOf('{'), [null, 'BAD_REQUEST']);
  assert.deepEqual(errorOf('[1]'), [null, 'BAD_REQUEST']);
  assert.deepEqual(errorOf('null'), [null, 'BAD_REQUEST']);
  assert.deepEqual(errorOf('{"v":2,"id":3,"cmd":"status"}'), [3, 'UNSUPPORTED_VERSION']);
  assert.deepEqual(errorOf('{"id":3,"cmd":"status"}'), [3, 'UNSUPPORTED_VERSION']);
  assert.deepEqual(errorOf('{"v":1,"id":4,"cmd":"rm -rf"}'), [4, 'BAD_REQUEST']);
  assert.deepEqual(errorOf('{"v":1,"id":5,"cmd":"restart","names":[]}'), [5, 'BAD_REQUEST']);
  assert.deepEqual(errorOf('{"v":1,"id":{},"cmd":"logs","lines":-1}'), [null, 'BAD_REQUEST']);
  const parsed = parseRequest('{"v":1,"id":6,"cmd":"start","names":[1]}');
  assert.ok('error' in parsed);
  assert.match(parsed.error.message, /^names\.0: /, 'the message names the field');
});

test('an error reply keeps a Corral error code, and says FAILED for anything else', () => {
  const known = errorReply(1, new InvalidStackError('UNKNOWN_COMPONENT', 'there is no component `x`'));
  assert.deepEqual(known, {
    v: 1,
    id: 1,
    ok: false,
    error: { code: 'UNKNOWN_COMPONENT', message: 'there is no component `x`' },
  });
  assert.deepEqual(errorReply(2, 'boom'), {
    v: 1,
    id: 2,
    ok: false,
    error: { code: 'FAILED', message: 'boom' },
  });
});
