import { describe, it, expect } from 'vitest';
import { InlineMediaEngine, sharedClock } from '../../src/media/inline-engine.js';
import { Responder } from './udp-responder.js';
import { cleanupAfterEach } from '../support/after-each.js';

const cleanups = cleanupAfterEach();

describe('InlineMediaEngine', () => {
  it('puts the channels of every inline engine on one process clock, released on close', async () => {
    const r = await Responder.start();
    cleanups.push(() => r.close());
    const a = new InlineMediaEngine();
    const b = new InlineMediaEngine();
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const base = sharedClock().stats().slots;
    const options = { ssrc: 1, serverHost: '127.0.0.1', serverPort: r.port };
    const ch1 = await a.openChannel(options);
    await a.openChannel(options);
    await b.openChannel(options);
    expect(sharedClock().stats().slots).toBe(base + 3);
    ch1.close();
    expect(sharedClock().stats().slots).toBe(base + 2);
    await a.close();
    expect(sharedClock().stats().slots).toBe(base + 1);
    await b.close();
    expect(sharedClock().stats().slots).toBe(base);
  });
});
