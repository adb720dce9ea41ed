import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interpolate, interpolateDocument, MIN_SEARCHED_SECRET } from '../../src/stackfile/interpolate.js';

const env = { HOST: 'db', PORT: '5432', EMPTY: '' };

test('references, defaults and escapes', { timeout: 10_000 }, () => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['${HOST}', 'db'],
    ['${HOST}:${PORT}', 'db:5432'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${HOST:-fallback}', 'db'],
    ['${MISSING:-}', ''],
    ['${EMPTY}', ''],
    ['${MISSING:-a:b-c}', 'a:b-c'],
    ['$${HOST}', '${HOST}'],
    ['$$${HOST}', '$${HOST}'],
    ['$HOST $ $$', '$HOST $ $$'],
    ['${HOST}$${PORT}', 'db${PORT}'],
  ];
  for (const [text, value] of cases) {
    const result = interpolate(text, env);
    assert.ok(result.ok, text);
    assert.equal(result.value, value, text);
  }
  assert.deepEqual(interpolate('$${HOST}', env), {
    ok: true,
    value: '${HOST}',
    read: false,
    shown: '${HOST}',
    values: [],
  });
  assert.deepEqual(interpolate('${HOST}', env), {
    ok: true,
    value: 'db',
    read: true,
    shown: '***',
    values: ['db'],
  });
});

test(
  'what a substitution shows: values read from the environment masked, defaults kept',
  { timeout: 10_000 },
  () => {
    const cases: [string, string, string[]][] = [
      ['--password=${PW}', '--password=***', ['hunter2']],
      ['${HOST}:${PORT}/${MISSING:-x}', '***:***/x', ['db', '5432']],
      ['${EMPTY}|${EMPTY:-dflt}', '|dflt', []],
      ['$${PW} ${PW}', '${PW} ***', ['hunter2']],
    ];
    for (const [text, shown, values] of cases) {
      const result = interpolate(text, { ...env, PW: 'hunter2' });
      assert.ok(result.ok, text);
      assert.equal(result.shown, shown, text);
      assert.deepEqual(result.values, values, text);
    }
  },
);

test('an unset variable without a default names the variable', { timeout: 10_000 }, () => {
  assert.deepEqual(interpolate('x${MISSING}y', env), {
    ok: false,
    message: 'environment variable MISSING is not set (use ${MISSING:-default})',
  });
});

test('malformed references are errors', { timeout: 10_000 }, () => {
  for (const text of ['${', '${HOST', '${}', '${1X}', '${HOST-x}', '${HOST:?x}', '${HO ST}', '${A:-${B}}']) {
    assert.equal(interpolate(text, env).ok, false, text);
  }
});

test(
  'a document is copied, substituted everywhere, and the substitutions recorded',
  { timeout: 10_000 },
  () => {
    const shared = { url: 'postgres://${HOST}:${PORT}' };
    const root = {
      a: shared,
      b: shared,
      list: ['${HOST}', 1, true, null],
      bad: '${NOPE}',
      literal: '$${HOST}',
    };
    const result = interpolateDocument(root, env);
    assert.deepEqual(result.document, {
      a: { url: 'postgres://db:5432' },
      b: { url: 'postgres://db:5432' },
      list: ['db', 1, true, null],
      bad: '${NOPE}',
      literal: '${HOST}',
    });
    assert.deepEqual(root.a, { url: 'postgres://${HOST}:${PORT}' }, 'the input is untouched');
    assert.deepEqual(
      result.problems.map((p) => p.path),
      [['bad']],
    );
    assert.deepEqual(
      [...result.substituted],
      [
        ['postgres://db:5432', 'postgres://${HOST}:${PORT}'],
        ['db', '${HOST}'],
      ],
    );
    assert.deepEqual(result.secrets, {
      values: new Set(['db', '5432']),
      strings: new Map([
        ['postgres://db:5432', 'postgres://***:***'],
        ['db', '***'],
      ]),
      minSearchLength: MIN_SEARCHED_SECRET,
    });
  },
);

test('a structure that contains itself is cut and reported, not walked forever', { timeout: 10_000 }, () => {
  const loop: unknown[] = ['x'];
  loop.push(loop);
  const result = interpolateDocument({ loop }, env);
  assert.deepEqual(result.document, { loop: ['x', null] });
  assert.deepEqual(
    result.problems.map((p) => p.path),
    [['loop', 1]],
  );
});

test('a key named __proto__ stays an ordinary key', { timeout: 10_000 }, () => {
  const root = JSON.parse('{"__proto__": {"polluted": "${HOST}"}}') as object;
  const { document } = interpolateDocument(root, env);
  assert.deepEqual(Object.keys(document as object), ['__proto__']);
  assert.equal(Object.getPrototypeOf(document), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
