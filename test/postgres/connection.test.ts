import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, connectionRedaction } from '../../src/postgres/connection.js';

const raw = 'postgres://app:s3cr%2Ft%40x@db.example:5432/app?sslmode=require';
const { target, redactor } = connectionRedaction(new URL(raw), raw);

test('the target shows the connection string with its credentials and query redacted', () => {
  assert.equal(target, 'postgres://***@db.example:5432/app?sslmode=***');
});

test('text removes the URL and the password in every spelling', () => {
  const text = `connect ${raw} failed; password s3cr/t@x, encoded s3cr%2Ft%40x`;
  const scrubbed = redactor.text(text);
  assert.equal(scrubbed, `connect ${target} failed; password ***, encoded ***`);
  // Negative control: the raw text does contain it.
  assert.ok(text.includes('s3cr/t@x'));
});

test('a password given as a query parameter is redacted too', () => {
  const url = 'postgres://app@db/app?password=hunter22';
  const r = connectionRedaction(new URL(url), url);
  assert.equal(r.target, 'postgres://***@db/app?password=***');
  assert.equal(r.redactor.text('x hunter22 y'), 'x *** y');
});

test('classify tells refused credentials from an unreachable server from a failed query', () => {
  assert.equal(
    classify(Object.assign(new Error('password authentication failed'), { code: '28P01' })),
    'auth',
  );
  assert.equal(classify(Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' })), 'auth');
  assert.equal(
    classify(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string')),
    'auth',
  );
  assert.equal(
    classify(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    'unavailable',
  );
  assert.equal(
    classify(Object.assign(new Error('the database system is starting up'), { code: '57P03' })),
    'unavailable',
  );
  assert.equal(classify(new Error('Connection terminated unexpectedly')), 'unavailable');
  assert.equal(
    classify(Object.assign(new Error('permission denied for schema public'), { code: '42501' })),
    'query',
  );
});
