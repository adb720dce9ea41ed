// `corral/stack`: a stack file read, validated and built into components, as `corral run` does.
export { loadStack, parseStack, StackFileError } from './load.js';
export type { ParseStackOptions, StackIssue } from './load.js';
export type { Stack, ComponentSpec } from './schema.js';
export { buildStack, buildElector } from './build.js';
export type { BuildOptions, BuiltStack, StackOutput } from './build.js';
