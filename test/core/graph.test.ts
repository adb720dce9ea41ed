import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component } from '../../src/core/component.js';
import { describeCycle, findCycles, startWaves, validateGraph } from '../../src/core/graph.js';

const c = (name: string, dependsOn: string[] = [], leader = false): Component => ({
  name,
  dependsOn,
  leader,
  run: () => Promise.resolve(),
});
const graph = (...components: Component[]) => new Map(components.map((x) => [x.name, x]));

test('start waves group components whose dependencies are all in earlier waves', () => {
  const g = graph(c('app', ['envoy', 'db']), c('envoy', ['dns']), c('dns'), c('db'), c('metrics'));
  validateGraph(g);
  assert.deepEqual(startWaves(g), [['dns', 'db', 'metrics'], ['envoy'], ['app']]);
});

test('a self-dependency is a cycle', () => {
  assert.throws(() => validateGraph(graph(c('a', ['a']))), {
    code: 'DEPENDENCY_CYCLE',
    message: 'dependency cycle: a -> a',
  });
});

test('every cycle is found, each as a closed path ending with the dependency that closes it', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['a', 'c']],
    ['c', ['d', 'missing']],
    ['d', ['c']],
    ['e', []],
  ]);
  assert.deepEqual(findCycles(g), [
    ['a', 'b', 'a'],
    ['c', 'd', 'c'],
  ]);
  assert.equal(describeCycle(['a', 'b', 'a']), 'dependency cycle: a -> b -> a');
});

test('a cycle through 50,000 components is named without overflowing the stack', () => {
  const n = 50_000;
  const g = graph(...Array.from({ length: n }, (_, i) => c(`c${i}`, [`c${(i + 1) % n}`])));
  assert.throws(() => validateGraph(g), {
    code: 'DEPENDENCY_CYCLE',
    message: /^dependency cycle: c0 -> c1 -> .* -> c49999 -> c0$/,
  });
});
