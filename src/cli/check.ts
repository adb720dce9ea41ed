import { resolve } from 'node:path';
import type { Component } from '../core/component.js';
import { formatMs } from '../core/errors.js';
import { startWaves } from '../core/graph.js';
import type { ComponentSpec, Stack } from '../stackfile/schema.js';

/**
 * `corral check`: the stack as Corral will run it. The start order in waves (a wave starts
 * concurrently), the stop order (its reverse), every timeout, and the leader components.
 */
export function checkCommand(stack: Stack, file: string): string {
  const waves = startOrder(stack);
  const wave = (names: string[], i: number): string => `  ${i + 1}. ${names.join(', ')}`;
  const leaders = stack.components.filter((c) => c.leader).map((c) => c.name);
  const election = stack.leaderElection?.postgres;
  const lines = [
    `${resolve(file)}: valid, ${stack.components.length} component${stack.components.length === 1 ? '' : 's'}`,
    '',
    'start order (each line starts concurrently, after the line above is ready):',
    ...waves.map(wave),
    '',
    'stop order (each line stops after the line above has finished):',
    ...[...waves].reverse().map(wave),
    '',
    'timeouts:',
    `  shutdown.timeout  ${formatMs(stack.shutdown.timeout)} (whole budget from the first signal to exit)`,
    ...stack.components.map((c) => `  ${c.name.padEnd(16)}  ${timeouts(c).join(', ')}`),
    '',
    leaders.length === 0
      ? 'leader components: none'
      : `leader components: ${leaders.join(', ')} (${
          election
            ? `elected on PostgreSQL, election "${election.name}"${election.lease === undefined ? '' : `, lease ${formatMs(election.lease)}`}`
            : 'no leaderElection section: this instance is always the leader'
        })`,
    '',
  ];
  return lines.join('\n');
}

/** The stack's start order in waves: each wave starts concurrently, after the one before is ready. */
export function startOrder(stack: Stack): string[][] {
  const graph = new Map<string, Component>(
    stack.components.map((c) => [
      c.name,
      { name: c.name, dependsOn: c.dependsOn, run: () => Promise.resolve() },
    ]),
  );
  return startWaves(graph);
}

function timeouts(spec: ComponentSpec): string[] {
  const parts = [
    `stop ${formatMs(spec.stopTimeout)}${'stopSignal' in spec ? ` after ${spec.stopSignal}` : ''}`,
  ];
  if ('ready' in spec && spec.ready) parts.push(`ready within ${formatMs(spec.ready.timeout)}`);
  if ('drain' in spec && spec.drain) {
    parts.push(`drain min ${formatMs(spec.drain.min)}, at most ${formatMs(spec.drain.timeout)}`);
  }
  if ('restart' in spec && spec.restart) {
    const r = spec.restart;
    parts.push(
      `restart backoff ${formatMs(r.backoff.base)}..${formatMs(r.backoff.max)}, at most ${r.maxRestarts} in ${formatMs(r.window)}`,
    );
  }
  return parts;
}
