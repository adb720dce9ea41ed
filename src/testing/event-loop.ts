/**
 * Resolves after `turns` full turns of the event loop (each a `setImmediate`, which runs after
 * the poll phase, with the close phase of the turn before behind it). So every promise chain that
 * was woken gets to its next real wait, and every handle whose close had already begun is gone.
 */
export async function afterTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
