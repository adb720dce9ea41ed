import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor, redactUrl, redactUrls } from '../../src/util/redact.js';

test('redactUrl hides the user information, every query value and the fragment', () => {
  assert.equal(
    redactUrl('http://admin:s3cret@127.0.0.1:9000/drain?token=t0k&x=1#access_token=a'),
    'http://***@127.0.0.1:9000/drain?token=***&x=***#***',
  );
  assert.equal(redactUrl('https://token@example.com/'), 'https://***@example.com/');
  assert.equal(redactUrl('http://127.0.0.1:9000/connections'), 'http://127.0.0.1:9000/connections');
  // A part without `=` is all value; empty parts and empty values have nothing to hide.
  assert.equal(redactUrl('http://h/p?s3cr3t&&a=&b=2#'), 'http://h/p?***&&a=&b=***#');
  assert.equal(redactUrl('not a url, s3cret'), 'not a url, s3cret');
});

test('redactUrl works on what a URL parser rejects, taking the user information to the last @', () => {
  assert.equal(redactUrl('http://user:pa ss@[bad/x'), 'http://***@[bad/x');
  assert.equal(redactUrl('http://u:p/a?s#s@db/x'), 'http://***@db/x');
  assert.doesNotMatch(redactUrl('http://a:b%40c@host/'), /b%40c|b@c/);
});

test('redactUrl is idempotent', () => {
  for (const url of ['http://u:p@h/x?a=1&b#f', 'postgres://***@db/x?sslmode=***', 'http://h/?***']) {
    const once = redactUrl(url);
    assert.equal(redactUrl(once), once);
  }
});

test('redactUrls redacts every URL in free text and leaves the punctuation around it', () => {
  assert.equal(
    redactUrls('GET http://u:p@h/a?token=t answered 503 (see "https://x/?k=v"), then ftp://x@y.'),
    'GET http://***@h/a?token=*** answered 503 (see "https://x/?k=***"), then ftp://***@y.',
  );
  assert.equal(redactUrls('no url here: a=1?b'), 'no url here: a=1?b');
});

test('a Redactor hides known values in any spelling, the longest first', () => {
  const redactor = new Redactor({ values: ['p@ss word', 'p@ss word and more'] });
  assert.equal(
    redactor.text('raw p@ss word and more; encoded p%40ss%20word; json "p@ss word"'),
    'raw ***; encoded ***; json "***"',
  );
  assert.equal(new Redactor({ values: ['a"b\\c'] }).text('{"pw":"a\\"b\\\\c"}'), '{"pw":"***"}');
  // Negative control: nothing known, nothing hidden (but URLs still are).
  assert.equal(new Redactor().text('p@ss word http://u:p@h/'), 'p@ss word http://***@h/');
});

test('a secret that is part of a URL does not keep the URL from being redacted', () => {
  const redactor = new Redactor({ values: ['http', 'Zq7 http://h/?t=x'] });
  assert.equal(redactor.text('GET http://h/p?token=t0k'), 'GET ***://h/p?token=***');
  // A secret holding a URL is found whole, although its URL was redacted first.
  assert.equal(redactor.text('said Zq7 http://h/?t=x'), 'said ***');
});

test('strings are shown as given, also inside longer text; short ones only as whole list items', () => {
  const redactor = new Redactor({
    values: ['hunter2', 'ab'],
    strings: [
      ['--password=hunter2', '--password=***'],
      ['--pin=ab', '--pin=***'],
      ['ab', '***'],
    ],
    minSearchLength: 4,
  });
  assert.equal(redactor.text('run --password=hunter2 now'), 'run --password=*** now');
  assert.equal(redactor.text('hunter2 alone'), '*** alone');
  assert.equal(redactor.text('run --pin=ab'), 'run --pin=***');
  // Two characters are not searched for on their own: `about` stays readable…
  assert.equal(redactor.text('about ab'), 'about ab');
  // …but as an argument of a command, it is hidden.
  assert.deepEqual(redactor.value(['cmd', 'ab', 'about']), ['cmd', '***', 'about']);
  // Replacing is one pass: a secret inside what replaced another is not searched again.
  assert.equal(new Redactor({ values: ['***x', 'a***xb'] }).text('a***xb'), '***');
});

test('value copies events and errors with every string redacted, keeping their structure', () => {
  class ProbeError extends Error {
    readonly code = 'PROBE';
    readonly command: string[];
    constructor(command: string[], options?: ErrorOptions) {
      super(`probe \`${command.join(' ')}\` failed`, options);
      this.command = command;
    }
  }
  const cause = new Error('spawn /bin/check hunter2 ENOENT');
  const error = new ProbeError(['/bin/check', '--pw=hunter2'], { cause });
  const event = {
    type: 'component.failed',
    component: 'app',
    error,
    nested: { later: [{ error: 'token hunter2' }], count: 3, ok: true, none: null },
  };
  const redactor = new Redactor({ values: ['hunter2'], strings: [['--pw=hunter2', '--pw=***']] });
  const shown = redactor.value(event);

  assert.ok(!JSON.stringify(shown).includes('hunter2'));
  assert.ok(shown.error instanceof ProbeError);
  assert.equal(shown.error.code, 'PROBE');
  assert.equal(shown.error.name, 'Error');
  assert.equal(shown.error.message, 'probe `/bin/check --pw=***` failed');
  assert.deepEqual(shown.error.command, ['/bin/check', '--pw=***']);
  assert.ok(shown.error.stack?.startsWith('Error: probe `/bin/check --pw=***` failed'));
  assert.ok(!(shown.error.stack ?? '').includes('hunter2'));
  assert.equal((shown.error.cause as Error).message, 'spawn /bin/check *** ENOENT');
  assert.deepEqual(Object.keys(shown.error), Object.keys(error), 'enumerability is kept');
  assert.deepEqual(shown.nested, { later: [{ error: 'token ***' }], count: 3, ok: true, none: null });
  // The original is untouched.
  assert.equal(error.command[1], '--pw=hunter2');
  assert.match(error.message, /hunter2/);
});

test('value keeps the fields it is told to keep, at any depth', () => {
  const redactor = new Redactor({ values: ['frontend'] });
  const error = Object.assign(new Error('frontend failed'), { component: 'frontend' });
  const shown = redactor.value(
    { type: 'component.failed', component: 'frontend', error, note: 'frontend' },
    new Set(['component']),
  );
  assert.equal(shown.component, 'frontend');
  assert.equal(shown.error.component, 'frontend');
  assert.equal(shown.error.message, '*** failed');
  assert.equal(shown.note, '***');
  // Negative control: without it, the name is hidden like any other text.
  assert.equal(redactor.value({ component: 'frontend' }).component, '***');
});

test('value survives cycles and leaves other objects as they are', () => {
  const error = new Error('hunter2') as Error & { self?: unknown };
  error.self = error;
  const date = new Date(0);
  const redactor = new Redactor({ values: ['hunter2'] });
  const shown = redactor.value({ error, date });
  assert.equal(shown.error.message, '***');
  assert.equal(shown.error.self, shown.error);
  assert.equal(shown.date, date);
});

test('describe gives a thrown value as one redacted line', () => {
  const redactor = new Redactor({ values: ['hunter2'] });
  assert.equal(redactor.describe(new Error('bad\n  password hunter2 ')), 'bad password ***');
  assert.equal(redactor.describe('at http://u:hunter2@h/?a=b'), 'at http://***@h/?a=***');
});
