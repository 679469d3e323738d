/**
 * The inbound stage on its own: the SSRC map, the packets held for an SSRC without op 5 (and their
 * bounds), DAVE decryption and what a failing decryptor costs. Its wiring into a session is in
 * session-dave.test.ts, the receiver behind it in test/receive, the real call in test/e2e.
 */
import { describe, expect, it } from 'vitest';
import type { ReceivedRtp } from '../../src/media/media-engine.js';
import { InboundStage } from '../../src/voice/inbound.js';
import type { DaveDecrypt, ReceiveOutcome } from '../../src/voice/inbound.js';

function rtp(ssrc: number, sequence: number, receivedAt = 0, payload = [0xfc, sequence & 0xff]): ReceivedRtp {
  return { ssrc, sequence, timestamp: sequence * 960, payload: Uint8Array.from(payload), receivedAt };
}

function stage(dave?: DaveDecrypt): { inbound: InboundStage; take: () => ReceiveOutcome[] } {
  const out: ReceiveOutcome[] = [];
  const inbound = new InboundStage({
    frame: (frame) => out.push({ ok: true, frame }),
    failure: (failure) => out.push({ ok: false, failure }),
  });
  if (dave !== undefined) inbound.useDave(dave);
  return { inbound, take: () => out.splice(0) };
}

const plainDave: DaveDecrypt = { decrypt: (_user, frame) => ({ ok: true, frame }) };

function summary(outcomes: ReceiveOutcome[]): string[] {
  return outcomes.map((o) =>
    o.ok ? `${String(o.frame.userId)}:${o.frame.sequence}` : `${o.failure.reason}:${o.failure.sequence}`,
  );
}

describe('InboundStage', () => {
  it('keeps one SSRC per user: a new op 5 SSRC replaces the old one, op 13 forgets the user', () => {
    const { inbound, take } = stage();
    inbound.map(1, 'a');
    inbound.map(2, 'b');
    inbound.map(3, 'a');
    expect([...inbound.users]).toEqual([
      [2, 'b'],
      [3, 'a'],
    ]);
    inbound.receive(rtp(1, 10)); // SSRC 1 is nobody's now: held
    inbound.receive(rtp(3, 11));
    inbound.forget('a', 5_000);
    expect([...inbound.users]).toEqual([[2, 'b']]);
    inbound.receive(rtp(3, 12, 6_001)); // held too; the first held one is 6 s old and goes
    inbound.reset();
    // Held and given up, without DAVE, as frames without a user.
    expect(summary(take())).toEqual(['a:11', 'undefined:10', 'undefined:12']);
  });

  it('without DAVE too, holds the packets of an SSRC whose op 5 has not come: they go out as its user’s', () => {
    const { inbound, take } = stage();
    inbound.map(1, 'a');
    inbound.receive(rtp(9, 1, 0)); // UDP overtook the websocket
    inbound.receive(rtp(9, 2, 20));
    inbound.receive(rtp(1, 1, 20));
    expect(summary(take())).toEqual(['a:1']);
    inbound.map(9, 'b');
    inbound.releaseHeld(9);
    inbound.receive(rtp(9, 3, 40));
    expect(summary(take())).toEqual(['b:1', 'b:2', 'b:3']);
    // One whose op 5 never comes goes out after 1 s without a user, and is counted.
    inbound.receive(rtp(8, 1, 100));
    inbound.receive(rtp(1, 2, 1_101));
    expect(summary(take())).toEqual(['undefined:1', 'a:2']);
    expect(inbound.stats.unknownSenderFrames).toBe(1);
  });

  it.each([
    ['without DAVE', undefined],
    ['with DAVE', plainDave],
  ])(
    'a packet that arrives after its user’s op 13 is still theirs for 1 s, %s (the websocket overtook it)',
    (_name, dave) => {
      const { inbound, take } = stage(dave);
      inbound.map(7, 'gone');
      inbound.receive(rtp(7, 1, 4_990));
      inbound.forget('gone', 5_000);
      // Forwarded before the op 13 (arrived at 4_995, read after it), and just after.
      inbound.receive(rtp(7, 2, 4_995));
      inbound.receive(rtp(7, 3, 6_000));
      expect(summary(take())).toEqual(['gone:1', 'gone:2', 'gone:3']);
      // Later than that the SSRC is nobody's: held, then given up (with DAVE as unknown-user).
      inbound.receive(rtp(7, 4, 6_001));
      inbound.reset();
      expect(summary(take())).toEqual([dave === undefined ? 'undefined:4' : 'unknown-user:4']);
    },
  );

  it('a held packet whose op 5 never comes is given up after 1 s, when any later packet arrives', () => {
    const { inbound, take } = stage(plainDave);
    inbound.map(1, 'a');
    inbound.receive(rtp(9, 1, 0)); // held: SSRC 9 has no op 5, and sends nothing more
    inbound.receive(rtp(1, 1, 1_000));
    expect(summary(take())).toEqual(['a:1']);
    inbound.receive(rtp(1, 2, 1_001));
    expect(summary(take())).toEqual(['unknown-user:1', 'a:2']);
    expect(inbound.stats.unknownSenderFrames).toBe(1);
  });

  it('a throwing decryptor costs that frame, counted as exception; the next frame decrypts', () => {
    let calls = 0;
    const { inbound, take } = stage({
      decrypt: (_user, frame) => {
        if (++calls === 1) throw new Error('decryptor bug');
        return { ok: true, frame };
      },
    });
    inbound.map(5, 'u');
    inbound.receive(rtp(5, 1));
    inbound.receive(rtp(5, 2));
    expect(take()).toEqual([
      { ok: false, failure: { userId: 'u', ssrc: 5, sequence: 1, reason: 'exception' } },
      expect.objectContaining({ ok: true }),
    ]);
    expect(inbound.stats).toEqual({
      framesDecrypted: 1,
      decryptFailures: { u: { exception: 1 } },
      unknownSenderFrames: 0,
    });
  });

  it('holds at most 50 packets per unmapped SSRC and 16 SSRCs; what is pushed out is reported unknown-user', () => {
    const { inbound, take } = stage(plainDave);
    for (let seq = 1; seq <= 52; seq++) inbound.receive(rtp(100, seq, seq));
    expect(summary(take())).toEqual(['unknown-user:1', 'unknown-user:2']);
    for (let ssrc = 101; ssrc <= 115; ssrc++) inbound.receive(rtp(ssrc, 1));
    expect(take()).toEqual([]);
    // A 17th SSRC: the oldest one's 50 held packets are given up.
    inbound.receive(rtp(116, 1));
    const pushed = take();
    expect(pushed).toHaveLength(50);
    expect(pushed.every((o) => !o.ok && o.failure.ssrc === 100 && o.failure.userId === undefined)).toBe(true);
    expect(inbound.stats.unknownSenderFrames).toBe(52);
    inbound.map(116, 'late');
    inbound.releaseHeld(116);
    expect(summary(take())).toEqual(['late:1']);
  });

  it('reset() forgets users and gives up held packets (reported), keeps the counters; so does DAVE stopping', () => {
    const { inbound, take } = stage(plainDave);
    inbound.map(1, 'a');
    inbound.receive(rtp(1, 1));
    inbound.receive(rtp(2, 1)); // held
    inbound.reset();
    expect(inbound.users.size).toBe(0);
    inbound.map(2, 'b');
    inbound.releaseHeld(2);
    expect(summary(take())).toEqual(['a:1', 'unknown-user:1']);
    inbound.receive(rtp(3, 2)); // held
    inbound.useDave(undefined);
    inbound.useDave(plainDave);
    inbound.map(3, 'c');
    inbound.releaseHeld(3);
    expect(summary(take())).toEqual(['unknown-user:2']);
    expect(inbound.stats).toMatchObject({ framesDecrypted: 1, unknownSenderFrames: 2 });
  });
});
