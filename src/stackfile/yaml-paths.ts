import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Document,
  type LineCounter,
  type Pair,
} from 'yaml';
import type { PathSegments } from './issues.js';

/**
 * Between document paths (`components.app.stopTimeout`) and places in the YAML text: the line a
 * problem is reported on, and the path of a syntax error's position.
 */

/**
 * The line (1-based) of the value at `path`. A map entry is reported at its key, which is where a
 * reader looks. When the path goes further than the document (a missing key), the deepest part that
 * exists is used, so a missing key points at its parent's key.
 */
export function lineOfPath(doc: Document, lineCounter: LineCounter, path: PathSegments): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = findPair(doc, node.items, segment);
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

/** The path of the innermost map entry or list item whose text contains `offset`. */
export function pathAtOffset(doc: Document, offset: number): PathSegments {
  const path: PropertyKey[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => contains(p.key, offset) || contains(p.value, offset));
      if (pair === undefined || !isScalar(pair.key)) break;
      path.push(String(pair.key.value));
      if (contains(pair.key, offset)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => contains(item, offset));
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else {
      break;
    }
  }
  return path;
}

/**
 * Where a map key is itself a map or a list (`? [a, b] : c`). Such keys would reach the schema as
 * their YAML text, which can be anything; they are rejected here, without being shown.
 */
export function collectionKeyOffsets(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Pair(_, pair) {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      const start = rangeStart(pair.key);
      if (isCollection(key) && start !== undefined) offsets.push(start);
    },
  });
  return offsets;
}

/** The entry for `segment`, also looking into `<<` merge keys, which contribute entries too. */
function findPair(doc: Document, items: readonly Pair[], segment: PropertyKey): Pair | undefined {
  const matches = (pair: Pair): boolean => isScalar(pair.key) && String(pair.key.value) === String(segment);
  const own = items.find(matches);
  if (own !== undefined) return own;
  for (const merge of items.filter((pair) => isMergeKey(pair.key))) {
    const sources = isSeq(merge.value) ? merge.value.items : [merge.value];
    for (const source of sources) {
      const target = isAlias(source) ? source.resolve(doc) : source;
      const found = isMap(target) ? target.items.find(matches) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** With `merge: true`, yaml gives a merge key the value Symbol(<<), not the string. */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  return key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<');
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: unknown } | null | undefined)?.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as { range?: unknown } | null | undefined)?.range;
  return Array.isArray(range) && typeof range[0] === 'number' && typeof range[2] === 'number'
    ? range[0] <= offset && offset < Math.max(range[2], range[0] + 1)
    : false;
}
