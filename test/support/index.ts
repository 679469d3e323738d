/** The test shelf: waits, cleanup, ids, bytes, open descriptors, the call builder and the fakes. */
export { poll, sleep, until } from './wait.js';
export { Cleanup } from './cleanup.js';
export { cleanupAfterEach } from './after-each.js';
export { BOT, CHANNEL, CHANNEL_2, GUILD, LISTENER } from './ids.js';
export { hex, hexBuffer, isSilence, unhex } from './bytes.js';
export { caught } from './errors.js';
export { bareSession, botClient, joinBot, joinWith, startCall } from './call.js';
export type { BareSessionOptions, Bot, Call, CallOptions } from './call.js';
export * from './fakes.js';
export { sinePcm } from './tone.js';
export { descriptorsOpenOn } from './descriptors.js';
