import { describe, expect, it } from 'vitest';
import { countGaps } from '../../src/cli/demo-call.js';
import type { DemoCallResult } from '../../src/cli/demo-call.js';
import { buildDemoReport, measureSnr } from '../../src/cli/demo-report.js';
import { DEMO_TONES, renderTones } from '../../src/player/inputs/tone.js';

const sent = renderTones(DEMO_TONES);
const CODE = '123451234512345123451234512345';

/** `sent` delayed by `lag` samples with a little noise: what a good call hears. */
function heardOf(lag: number, noise = 200, seed = 1): Int16Array {
  let x = seed;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const out = new Int16Array(sent.length + lag * 2);
  for (let i = 0; i < sent.length; i++) out[i + lag * 2] = sent[i]! + Math.round(rnd() * noise);
  return out;
}

function result(overrides: Partial<DemoCallResult> = {}): DemoCallResult {
  const side = {
    transportMode: 'aead_aes256_gcm_rtpsize',
    daveProtocolVersion: 1,
    epoch: 1n,
    privacyCode: CODE,
    verificationCode: '9'.repeat(45),
  };
  return {
    bot: { ...side },
    listener: { ...side },
    framesSent: 150,
    framesDroppedNoKey: 0,
    framesReceived: 150,
    decryptFailures: 0,
    sequenceGaps: 0,
    framesConcealed: 0,
    sent,
    heard: heardOf(312),
    playedMs: 3_000,
    timeline: [{ atMs: 1, actor: 'server', kind: 'join', text: 'bot joined' }],
    ...overrides,
  };
}

describe('buildDemoReport', () => {
  it('passes a clean call and fills every required field', () => {
    const report = buildDemoReport(result(), { elapsedMs: 4_321.4 });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({
      ok: true,
      transportMode: 'aead_aes256_gcm_rtpsize',
      daveProtocolVersion: 1,
      epoch: 1,
      privacyCodesMatch: true,
      verificationCodesMatch: true,
      framesSent: 150,
      framesReceived: 150,
      framesLost: 0,
      durationMs: 3_000,
      elapsedMs: 4_321,
      delayMs: 6.5,
    });
    expect(report.snrDb).toBeGreaterThan(30);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // JSON-safe (no bigint, no Infinity)
  });

  it('fails when the privacy codes differ or are missing', () => {
    const differ = buildDemoReport(
      result({ listener: { ...result().listener, privacyCode: '9'.repeat(30) } }),
      { elapsedMs: 1 },
    );
    expect(differ.ok).toBe(false);
    expect(differ.privacyCodesMatch).toBe(false);
    expect(differ.failures.join()).toMatch(/privacy codes differ/);
    const none = buildDemoReport(result({ bot: { ...result().bot, privacyCode: undefined } }), {
      elapsedMs: 1,
    });
    expect(none.failures.join()).toMatch(/no privacy code/);
  });

  it('fails on lost frames, decrypt failures and sequence gaps', () => {
    const report = buildDemoReport(result({ framesReceived: 147, decryptFailures: 3, sequenceGaps: 2 }), {
      elapsedMs: 1,
    });
    expect(report.framesLost).toBe(3);
    expect(report.failures).toEqual(
      expect.arrayContaining([
        '3 of 150 frames were lost',
        '3 frames could not be decrypted',
        '2 RTP sequence numbers never arrived',
      ]),
    );
  });

  it('fails when nothing was heard, or DAVE was off', () => {
    const silent = buildDemoReport(result({ framesReceived: 0, heard: new Int16Array(0) }), { elapsedMs: 1 });
    expect(silent.ok).toBe(false);
    expect(silent.snrDb).toBeNull();
    expect(silent.failures).toContain('no audio reached the listener');
    const off = buildDemoReport(result({ bot: { ...result().bot, daveProtocolVersion: 0 } }), {
      elapsedMs: 1,
    });
    expect(off.failures.join()).toMatch(/DAVE was not in effect/);
  });

  it('fails when the heard audio is not the sent audio (SNR)', () => {
    // Noise of the same loudness instead of the signal.
    let x = 7;
    const noise = sent.map(() => ((x = (x * 1103515245 + 12345) & 0x7fffffff) % 20_000) - 10_000);
    const report = buildDemoReport(result({ heard: noise }), { elapsedMs: 1 });
    expect(report.snrDb!).toBeLessThan(3);
    expect(report.failures.join()).toMatch(/SNR .* below 25 dB/);
    // One 20 ms frame missing (zeroed) out of 150 is already below the threshold (about 21 dB).
    const holed = heardOf(312, 0);
    holed.fill(0, (312 + 48_000) * 2, (312 + 48_000 + 960) * 2);
    expect(measureSnr(sent, holed).snrDb!).toBeLessThan(25);
  });
});

describe('countGaps', () => {
  it('counts missing sequence numbers, across the u16 wrap', () => {
    expect(countGaps([])).toBe(0);
    expect(countGaps([5, 6, 7])).toBe(0);
    expect(countGaps([5, 7, 6, 10])).toBe(2);
    expect(countGaps([65534, 65535, 0, 2])).toBe(1);
    expect(countGaps([3, 3, 4])).toBe(0);
  });
});
