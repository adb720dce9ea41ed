/**
 * Calls `listener` (if any) and ignores what it throws: a broken observer must not break what it
 * observes (an election, the watchdog, forwarded output).
 */
export function notify<A extends unknown[]>(listener: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    listener?.(...args);
  } catch {
    // Ignored; see above.
  }
}
