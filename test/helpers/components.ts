export { ScriptedComponent as Scripted } from '../../src/testing/scripted-component.js';
export { recordEvents as record } from '../../src/testing/record-events.js';

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Resolves when `predicate` holds, checking after each macrotask; fails after `ms` of wall time. */
export async function eventually(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms}ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
