import { describe, expect, it } from 'vitest';
import type { DemoReport } from '../../src/cli/demo-report.js';
import { envelope, escapeHtml, renderReportHtml } from '../../src/cli/report-html.js';
import { DEMO_TONES, renderTones } from '../../src/player/inputs/tone.js';

const sent = renderTones(DEMO_TONES);

function report(overrides: Partial<DemoReport> = {}): DemoReport {
  return {
    ok: true,
    failures: [],
    transportMode: 'aead_aes256_gcm_rtpsize',
    daveProtocolVersion: 1,
    epoch: 1,
    privacyCodes: { bot: '123451234512345123451234512345', listener: '123451234512345123451234512345' },
    privacyCodesMatch: true,
    verificationCodesMatch: true,
    framesSent: 150,
    framesReceived: 150,
    framesLost: 0,
    decryptFailures: 0,
    sequenceGaps: 0,
    framesConcealed: 0,
    framesDroppedNoKey: 0,
    snrDb: 35.1,
    snrThresholdDb: 25,
    delayMs: 6.5,
    durationMs: 3_000,
    elapsedMs: 4_000,
    timeline: [
      { atMs: 10, actor: 'server', kind: 'join', text: 'bot joined the call' },
      { atMs: 20, actor: 'bot', kind: 'epoch', text: 'DAVE epoch 1 (version 1)' },
      { atMs: 30, actor: 'listener', kind: 'privacy-code', text: 'a <b>tag</b> & "quotes"' },
      { atMs: 40, actor: 'server', kind: 'transition', text: 'DAVE transition-executed: transition 1' },
    ],
    ...overrides,
  };
}

describe('renderReportHtml', () => {
  it('is one self-contained file: no scripts, no external resources', () => {
    const html = renderReportHtml(report(), sent, sent);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/(src|href)\s*=/i);
  });

  it('draws the sent and heard waveforms, an overlay, and the timeline with every event', () => {
    const html = renderReportHtml(report(), sent, sent);
    expect(html.match(/<polygon /g)).toHaveLength(2);
    expect(html.match(/<polyline /g)).toHaveLength(2);
    expect(html.match(/<circle /g)).toHaveLength(4);
    for (const lane of ['server', 'bot', 'listener']) expect(html).toContain(`class="lane">${lane}<`);
    expect(html).toContain('12345 12345 12345 12345 12345 12345');
    expect(html).toContain('DAVE transition-executed');
  });

  it('escapes event text', () => {
    const html = renderReportHtml(report(), sent, sent);
    expect(html).not.toContain('<b>tag</b>');
    expect(html).toContain('a &#60;b&#62;tag&#60;/b&#62; &#38; &#34;quotes&#34;');
    expect(escapeHtml(`<'>`)).toBe('&#60;&#39;&#62;');
  });

  it('shows failures, and copes with nothing heard', () => {
    const html = renderReportHtml(
      report({ ok: false, failures: ['no audio reached the listener'], snrDb: null, delayMs: null }),
      sent,
      new Int16Array(0),
    );
    expect(html).toContain('FAILED');
    expect(html).toContain('<li>no audio reached the listener</li>');
    expect(html).toContain('nothing</figcaption>');
    expect(html).not.toContain('NaN');
  });
});

describe('envelope', () => {
  it('gives min and max of the left channel per column', () => {
    const stereo = Int16Array.from([0, 9, 16384, 9, -32768, 9, 8192, 9]);
    expect(envelope(stereo, 2)).toEqual([
      [0, 0.5],
      [-1, 0.25],
    ]);
  });
});
