/** Shared helpers that public signatures use: waiting for a state, the typed event emitter. */
export { entersState } from './enters-state.js';
export type { Stateful } from './enters-state.js';
export { TypedEmitter } from './typed-emitter.js';
export type { EventMap } from './typed-emitter.js';
