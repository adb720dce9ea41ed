import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/drain/redact.js';

test('redactUrl hides user and password, keeps the rest; scrubs unparsable text too', () => {
  assert.equal(
    redactUrl('http://admin:s3cret@127.0.0.1:9000/drain?x=1'),
    'http://***@127.0.0.1:9000/drain?x=1',
  );
  assert.equal(redactUrl('https://token@example.com/'), 'https://***@example.com/');
  assert.equal(redactUrl('http://127.0.0.1:9000/connections'), 'http://127.0.0.1:9000/connections');
  assert.equal(redactUrl('http://user:pa ss@[bad/x'), 'http://***@[bad/x');
  assert.doesNotMatch(redactUrl('http://a:b%40c@host/'), /b%40c|b@c/);
});
