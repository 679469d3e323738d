/**
 * The one-line event log of `voxcord serve`: a line per voice join, leave, DAVE epoch and
 * websocket close, so an operator watching a local Discord sees what bots do. Pure formatting of
 * the voice server's structured events (which never carry tokens, session ids or keys).
 */
import type { ServerEvent } from '../server/types.js';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function clock(at: Date): string {
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}

function where(event: ServerEvent): string {
  return `guild ${event.guildId ?? '?'} channel ${event.channelId ?? '?'}`;
}

/** The line for `event`, or null for events `serve` does not print. */
export function formatServeEvent(event: ServerEvent, at: Date = new Date()): string | null {
  let text: string;
  switch (event.type) {
    case 'join':
      text = `join   user ${event.userId ?? '?'} ${where(event)} (ssrc ${event.ssrc ?? '?'})`;
      break;
    case 'leave':
      text = `leave  user ${event.userId ?? '?'} ${where(event)} (${event.reason ?? 'left'})`;
      break;
    case 'dave':
      if (event.reason !== 'epoch') return null;
      text = `dave   ${where(event)}: ${event.detail ?? 'new epoch'}`;
      break;
    case 'close':
      text = `close  ${event.userId === undefined ? `connection #${event.connectionId ?? '?'}` : `user ${event.userId}`} voice websocket code ${event.code ?? '?'} (by ${event.reason ?? '?'})`;
      break;
    default:
      return null;
  }
  return `${clock(at)} ${text}`;
}
