/**
 * voxcord: Discord voice for Node.js bots.
 *
 * The package root only re-exports the folders' faces (their index.ts). Every type a public
 * signature uses is exported; internals are not. api/voxcord.api.md records the result
 * (`npm run api:report`), and test/api/api-report.test.ts keeps it current.
 */
export { VoxcordError, isVoxcordError } from './errors.js';
export type { VoxcordErrorCode } from './errors.js';
export * as protocol from './protocol/index.js';
export * from './util/index.js';

// Joining voice channels (the usual entry point)
export * from './gateway/index.js';

// Voice session (one voice websocket + UDP media, given credentials), its DAVE endpoint contract
export * from './voice/index.js';
export type * from './dave/index.js';

// Media engine
export * from './media/index.js';

// What voxcord runs on here (`voxcord doctor`)
export { generateDependencyReport } from './diagnostics/dependency-report.js';
export type { DependencyReportOptions } from './diagnostics/dependency-report.js';

// Audio, playing, receiving
export * from './audio/index.js';
export * from './player/index.js';
export * from './receive/index.js';

// The local Discord (main gateway subset, voice gateway, SFU, DAVE delivery service)
export * from './server/index.js';

// A Lavalink v4-compatible audio node (`voxcord node`)
export * from './node/index.js';
