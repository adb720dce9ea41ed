import { z } from 'zod';
import { stackSchema } from './schema.js';

/** JSON Schema type of a node produced by zod; loose on purpose, it is only inspected and rewritten. */
type JsonSchemaNode = Record<string, unknown>;

/**
 * A string where a number or boolean goes: a `${…}` reference (substituted before validation), or
 * the value itself as a string, which the loader accepts since substitution always yields strings.
 */
const AS_STRING: Record<string, { type: 'string'; pattern: string }> = {
  integer: { type: 'string', pattern: '\\$\\{|^-?\\d+$' },
  number: { type: 'string', pattern: '\\$\\{|^-?\\d+(\\.\\d+)?$' },
  boolean: { type: 'string', pattern: '\\$\\{|^(true|false)$' },
  string: { type: 'string', pattern: '\\$\\{' },
};

/** Keys that describe a value rather than constrain it; they stay on the outer node for editors' hovers. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples'];

/**
 * The JSON Schema of stack files, as committed in schema/corral.schema.json: the input side of
 * {@link stackSchema} (what a person writes, before defaults and normalization), draft-07 because
 * that is what editors' YAML plugins support best.
 */
export function stackJsonSchema(): JsonSchemaNode {
  return z.toJSONSchema(stackSchema('.'), {
    target: 'draft-07',
    io: 'input',
    override: ({ jsonSchema, path }) => {
      // Map keys (component names, env names) are never substituted, so their rules stay strict.
      if (!path.includes('propertyNames')) allowReferences(jsonSchema);
    },
  });
}

/** The file's exact text: what scripts/generate-schema.ts writes and the tests compare with. */
export function renderStackJsonSchema(): string {
  return `${JSON.stringify(stackJsonSchema(), null, 2)}\n`;
}

/**
 * Lets an editor accept `port: ${PORT}` or `timeout: ${T:-10s}`: every constrained scalar (numbers,
 * booleans, enums, patterned strings) also admits a string holding a reference. Idempotent, since
 * zod may visit a node more than once.
 */
function allowReferences(node: JsonSchemaNode): void {
  const { type } = node;
  const constrained =
    type === 'integer' ||
    type === 'number' ||
    type === 'boolean' ||
    (type === 'string' && ('pattern' in node || 'enum' in node || 'format' in node));
  if (!constrained || 'const' in node || 'anyOf' in node) return;
  const inner: JsonSchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (ANNOTATIONS.includes(key)) continue;
    inner[key] = value;
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- rewriting the node in place is the override API
    delete node[key];
  }
  node.anyOf = [inner, AS_STRING[type] ?? AS_STRING.string];
}
