import { CST, Parser } from 'yaml';

/**
 * How deeply a stack file may nest maps and lists. A real one needs about six levels
 * (`components.proxy.drain.http.headers.X`); the limit is far above that, and far below the depth
 * at which the recursive steps after parsing (the YAML composer, interpolation, validation) would
 * run out of stack.
 */
export const MAX_STACK_DEPTH = 64;

/**
 * The offset of the first map or list nested deeper than `limit` (the outermost one is level 1),
 * or `undefined`. Works on yaml's concrete syntax tree, which its parser builds without recursion,
 * and walks it without recursion, so any depth is measured safely.
 */
export function tooDeepAt(text: string, limit: number = MAX_STACK_DEPTH): number | undefined {
  const pending: [CST.Token, number][] = [];
  for (const token of new Parser().parse(text)) pending.push([token, 0]);
  let first: number | undefined;
  while (pending.length > 0) {
    const [token, depth] = pending.pop() as [CST.Token, number];
    if (token.type === 'document') {
      if (token.value) pending.push([token.value, depth]);
    } else if (CST.isCollection(token)) {
      if (depth + 1 > limit) {
        // The earliest in the text, whatever order the walk found them in.
        first = Math.min(first ?? token.offset, token.offset);
        continue;
      }
      for (const item of token.items) {
        if (item.key) pending.push([item.key, depth + 1]);
        if (item.value) pending.push([item.value, depth + 1]);
      }
    }
  }
  return first;
}
