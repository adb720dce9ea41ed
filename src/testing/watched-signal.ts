/**
 * An abort signal that records whether its holder ever looked at it: added an `abort` listener or
 * set `onabort`, read `aborted` or `reason`, or called `throwIfAborted`, directly or through
 * whatever it handed the signal to (`events.once`, `AbortSignal.any`, `node:timers/promises`,
 * `fetch`, `child_process`… all do one of these). Only `abort` here does not count.
 */
export class WatchedSignal {
  readonly #controller = new AbortController();
  #looked = false;

  constructor() {
    const signal = this.#controller.signal;
    const look = (): void => {
      this.#looked = true;
    };
    // Own properties on this one signal shadow the prototype's: it stays a real AbortSignal, which
    // Node's own APIs require (they check its internal state, which a Proxy would not have).
    const proto = Object.getOwnPropertyDescriptors(AbortSignal.prototype);
    const target = Object.getOwnPropertyDescriptors(EventTarget.prototype);
    const read = (name: 'aborted' | 'reason'): PropertyDescriptor => ({
      configurable: true,
      get: () => {
        look();
        return proto[name].get?.call(signal) as unknown;
      },
    });
    Object.defineProperties(signal, {
      aborted: read('aborted'),
      reason: read('reason'),
      throwIfAborted: {
        configurable: true,
        value: () => {
          look();
          (proto.throwIfAborted.value as () => void).call(signal);
        },
      },
      onabort: {
        configurable: true,
        get: () => proto.onabort.get?.call(signal) as unknown,
        set: (handler: AbortSignal['onabort']) => {
          look();
          proto.onabort.set?.call(signal, handler);
        },
      },
      addEventListener: {
        configurable: true,
        value: (type: string, ...rest: unknown[]) => {
          if (type === 'abort') look();
          (target.addEventListener.value as (...args: unknown[]) => void).call(signal, type, ...rest);
        },
      },
    });
  }

  /** The signal to hand out. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the signal has been looked at so far. */
  get looked(): boolean {
    return this.#looked;
  }

  /** Aborts the signal with `reason`. */
  abort(reason: unknown): void {
    this.#controller.abort(reason);
  }
}
