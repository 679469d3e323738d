/**
 * The call's timeline for reports: joins, leaves, connection states, DAVE epochs and transitions,
 * playback, as seen by the server and each client. Times are ms since the timeline started.
 */
import type { ServerEvent } from '../server/types.js';
import type { VoiceSession } from '../voice/session.js';

export type TimelineKind =
  'join' | 'leave' | 'state' | 'epoch' | 'transition' | 'privacy-code' | 'audio' | 'error';

export interface TimelineEntry {
  atMs: number;
  /** 'server', or the name of a client ('bot', 'listener'...). */
  actor: string;
  kind: TimelineKind;
  text: string;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly start: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.start = now();
  }

  add(actor: string, kind: TimelineKind, text: string): void {
    this.entries.push({ atMs: Math.round((this.now() - this.start) * 10) / 10, actor, kind, text });
  }

  /** The server events worth showing (the server log is already free of secrets). */
  server(event: ServerEvent, names: ReadonlyMap<string, string>): void {
    const who = event.userId === undefined ? '' : (names.get(event.userId) ?? event.userId);
    switch (event.type) {
      case 'join':
        this.add('server', 'join', `${who} joined the call (ssrc ${event.ssrc ?? '?'})`);
        return;
      case 'leave':
        this.add('server', 'leave', `${who} left the call${event.reason ? ` (${event.reason})` : ''}`);
        return;
      case 'dave':
        if (
          event.reason === 'epoch' ||
          event.reason === 'version' ||
          event.reason === 'upgrade' ||
          event.reason === 'downgrade'
        )
          this.add(
            'server',
            event.reason === 'epoch' ? 'epoch' : 'transition',
            `DAVE ${event.reason}: ${event.detail ?? ''}`.trim(),
          );
        else if (event.reason === 'transition-executed' || event.reason === 'transition-timeout')
          this.add('server', 'transition', `DAVE ${event.reason}: ${event.detail ?? ''}`.trim());
        else this.add('server', 'transition', `DAVE ${event.reason ?? 'event'}${who ? ` (${who})` : ''}`);
        return;
      case 'dave-reject':
      case 'error':
        this.add('server', 'error', `${event.type}: ${event.reason ?? ''}${who ? ` (${who})` : ''}`);
        return;
      default:
    }
  }

  /** Follows one client's session: its states, DAVE epochs and privacy codes. Returns the unhook. */
  session(actor: string, session: VoiceSession): () => void {
    const onState = (_old: { status: string }, next: { status: string }): void =>
      this.add(actor, 'state', `voice session ${next.status}`);
    const onEpoch = (info: { protocolVersion: number; epoch: bigint | undefined }): void =>
      this.add(
        actor,
        'epoch',
        info.epoch === undefined
          ? `DAVE version ${info.protocolVersion}, no group`
          : `DAVE epoch ${info.epoch} (version ${info.protocolVersion})`,
      );
    const onCode = (code: string | undefined): void =>
      this.add(
        actor,
        'privacy-code',
        code === undefined ? 'privacy code cleared' : `privacy code ${groupDigits(code)}`,
      );
    session.on('stateChange', onState);
    session.on('daveEpoch', onEpoch);
    session.on('davePrivacyCode', onCode);
    return () => {
      session.off('stateChange', onState);
      session.off('daveEpoch', onEpoch);
      session.off('davePrivacyCode', onCode);
    };
  }
}

/** "123456789012..." -> "12345 67890 12..." (how Discord shows the codes). */
export function groupDigits(code: string, size = 5): string {
  return code.replace(new RegExp(`(\\d{${size}})(?=\\d)`, 'g'), '$1 ');
}
