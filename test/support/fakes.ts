/**
 * Where the suite's test doubles are found. They stay next to the layer they stand in for (so
 * their edits stay local) and are listed here once.
 */
export { FakeChannel, FakeEngine, PushSource, ScriptedServer, ServerConnection } from '../voice/fakes.js';
export type { ClientFrame } from '../voice/fakes.js';
export { FakeTimers } from '../media/fake-timers.js';
export { Responder } from '../media/udp-responder.js';
export { RawUdpClient, RawWsClient } from '../server/helpers.js';
