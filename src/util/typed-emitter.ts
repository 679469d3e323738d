import { EventEmitter } from 'node:events';

/**
 * An EventEmitter whose event names and listener arguments are checked by the compiler.
 * `Events` maps each event name to its argument tuple.
 */
export type EventMap = { [event: string]: unknown[] };

export class TypedEmitter<Events extends EventMap> extends EventEmitter {
  override on<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override once<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
  override off<E extends keyof Events & string>(event: E, listener: (...args: Events[E]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
  override emit<E extends keyof Events & string>(event: E, ...args: Events[E]): boolean {
    return super.emit(event, ...args);
  }
}
