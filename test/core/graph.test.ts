import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Component } from '../../src/core/component.js';
import { startWaves, validateGraph } from '../../src/core/graph.js';

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
    message: 'dependency cycle: `a` → `a`',
  });
});
