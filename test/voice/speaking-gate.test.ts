import { describe, expect, it } from 'vitest';
import { SpeakingGate } from '../../src/voice/speaking-gate.js';

describe('SpeakingGate', () => {
  it('opens only on the ACK of the probe that followed the first non-zero op 5 (or a later beat)', () => {
    const gate = new SpeakingGate();
    expect(gate.open).toBe(false);
    expect(gate.want(1)).toBe(true);
    expect(gate.sent(1)).toBe(true); // probe needed
    gate.probing(100);
    expect(gate.acked(99)).toBe(false); // an earlier beat says nothing about op 5
    expect(gate.open).toBe(false);
    expect(gate.acked(101)).toBe(true);
    expect(gate.open).toBe(true);
    expect(gate.acked(102)).toBe(false); // already open
  });

  it('sends op 5 once per flags change on a websocket, and probes once', () => {
    const gate = new SpeakingGate();
    expect(gate.want(0)).toBe(true);
    expect(gate.sent(0)).toBe(false); // speaking 0 needs no probe
    expect(gate.want(1)).toBe(true);
    expect(gate.sent(1)).toBe(true);
    gate.probing(5);
    expect(gate.want(1)).toBe(false); // the same flags again: nothing to send
    expect(gate.want(0)).toBe(true);
    expect(gate.sent(0)).toBe(false);
    expect(gate.want(1)).toBe(true);
    expect(gate.sent(1)).toBe(false); // a probe is already out
    gate.acked(5);
    expect(gate.want(0)).toBe(true);
    gate.sent(0);
    expect(gate.want(1)).toBe(true);
    expect(gate.sent(1)).toBe(false); // confirmed on this websocket
  });

  it('starts over on a new websocket but keeps the burst flags to re-send', () => {
    const gate = new SpeakingGate();
    gate.want(5);
    gate.sent(5);
    gate.probing(1);
    gate.acked(1);
    gate.reset();
    expect(gate.open).toBe(false);
    expect(gate.flags).toBe(5);
    expect(gate.acked(2)).toBe(false); // an ACK without a probe on this websocket
    expect(gate.want(5)).toBe(true);
    expect(gate.sent(5)).toBe(true);
    gate.unprobed();
    expect(gate.open).toBe(true);
  });
});
