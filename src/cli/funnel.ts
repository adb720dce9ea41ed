import type { CorralEvent } from '../events.js';
import type { Redactor } from '../util/redact.js';
import type { Renderer } from './render.js';

/**
 * Fields of events and errors that Corral sets from names and enumerations, never from a value
 * (component names are keys in the stack file, which are not substituted): shown as they are, so
 * that a secret which happens to equal one cannot garble them.
 */
const STRUCTURAL: ReadonlySet<string> = new Set([
  'type',
  'component',
  'reason',
  'phase',
  'signal',
  'code',
  'name',
]);

/** An event as a run shows it: redacted, and stamped with the wall-clock time it passed. */
export type ShownEvent = CorralEvent & { readonly time: number };

/** Something a run keeps up to date from its events: the stop report, the metrics, the kill switch. */
export interface EventObserver {
  observe(event: ShownEvent): void;
}

/**
 * The one way out for everything a run says. The runtime's events and Corral's own messages are
 * redacted here, once, before anything shows, reports, counts or logs them; then each event goes
 * to the renderer and to every observer, in order.
 */
export class EventFunnel {
  readonly #redactor: Redactor;
  readonly #renderer: Renderer;
  readonly #observers: EventObserver[];

  constructor(redactor: Redactor, renderer: Renderer, observers: readonly EventObserver[]) {
    this.#redactor = redactor;
    this.#renderer = renderer;
    this.#observers = [...observers];
  }

  /** Adds an observer of the events from now on. */
  add(observer: EventObserver): void {
    this.#observers.push(observer);
  }

  /** Passes one event on. Bound, so that it can be handed out as a listener. */
  readonly emit = (event: CorralEvent): void => {
    const shown = { ...this.#redactor.value(event, STRUCTURAL), time: Date.now() };
    this.#renderer.event(shown);
    for (const observer of this.#observers) observer.observe(shown);
  };

  /** A message of Corral's own, at `level`; see {@link Renderer.say}. */
  readonly say: Renderer['say'] = (level, message, fields) => {
    this.#renderer.say(
      level,
      this.#redactor.text(message),
      fields && this.#redactor.value(fields, STRUCTURAL),
    );
  };

  /** A message a person must see even when stdout is gone; see {@link Renderer.alert}. */
  alert(message: string): void {
    this.#renderer.alert(this.#redactor.text(message));
  }
}
