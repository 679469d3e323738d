/**
 * PATCH player body validation (§5 step 1), pure: the PlayerUpdate JSON becomes a typed update or
 * an HttpError 400 naming the problem. Unknown keys are ignored (clients send whole track objects).
 */
import { isVoxcordError } from '../errors.js';
import { resolveFilters, SUPPORTED_FILTERS } from '../player/filters/chain.js';
import type { FilterSettings } from '../player/filters/chain.js';
import { HttpError } from './http-error.js';
import type { VoiceCredentials } from './backend.js';
import type { JsonObject } from './types.js';

export interface PlayerUpdate {
  /** Present when the request starts a new track: a string, null (stop), or an identifier to resolve. */
  newTrack?: { encoded: string | null } | { identifier: string };
  userData?: JsonObject;
  position?: number;
  /** null clears the marker. */
  endTime?: number | null;
  volume?: number;
  paused?: boolean;
  /** The filters as sent (known keys only), and their library form. */
  filters?: { json: JsonObject; settings: FilterSettings };
  voice?: VoiceCredentials;
}

const bad = (message: string): HttpError => new HttpError(400, message);

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${name} must be an integer`);
  return v;
}

function parseFilters(value: unknown): { json: JsonObject; settings: FilterSettings } {
  if (!isObject(value)) throw bad('filters must be an object');
  // Every standard Lavalink filter is implemented (SUPPORTED_FILTERS); plugin filters are not.
  const disabled: string[] = [];
  const plugin = value.pluginFilters;
  if (plugin !== undefined && plugin !== null) {
    if (!isObject(plugin)) throw bad('filters.pluginFilters must be an object');
    disabled.push(...Object.keys(plugin));
  }
  if (disabled.length > 0) throw bad(`Following filters are disabled in the config: ${disabled.join(', ')}`);
  const json: JsonObject = {};
  for (const name of SUPPORTED_FILTERS) {
    if (value[name] !== undefined && value[name] !== null) json[name] = value[name];
  }
  const settings = json as FilterSettings;
  try {
    resolveFilters(settings);
  } catch (err) {
    if (isVoxcordError(err, 'INVALID_ARGUMENT')) throw bad(err.message);
    throw err;
  }
  return { json, settings };
}

function parseVoice(value: unknown): VoiceCredentials {
  if (!isObject(value)) throw bad('voice must be an object');
  const out: Record<string, string> = {};
  for (const key of ['token', 'endpoint', 'sessionId', 'channelId'] as const) {
    const v = value[key];
    if (typeof v !== 'string' || v.trim().length === 0)
      throw bad(
        `Partial voice state: voice.${key} must be a non-blank string (do not forward a partial voice server update)`,
      );
    out[key] = v;
  }
  return out as unknown as VoiceCredentials;
}

export function parsePlayerUpdate(body: unknown): PlayerUpdate {
  if (!isObject(body)) throw bad('The request body must be a JSON object');
  const update: PlayerUpdate = {};
  const track = body.track;
  const hasEncodedTrack = 'encodedTrack' in body && body.encodedTrack !== undefined;
  const hasIdentifier = body.identifier !== undefined;
  if (track !== undefined && track !== null) {
    if (hasEncodedTrack || hasIdentifier) throw bad('Cannot specify both track and encodedTrack/identifier');
    if (!isObject(track)) throw bad('track must be an object');
    const hasEncoded = 'encoded' in track && track.encoded !== undefined;
    if (hasEncoded && track.identifier !== undefined)
      throw bad('Cannot specify both track.encoded and track.identifier');
    if (hasEncoded) {
      if (track.encoded !== null && typeof track.encoded !== 'string')
        throw bad('track.encoded must be a string or null');
      update.newTrack = { encoded: track.encoded };
    } else if (track.identifier !== undefined) {
      if (typeof track.identifier !== 'string') throw bad('track.identifier must be a string');
      update.newTrack = { identifier: track.identifier };
    }
    if (track.userData !== undefined) {
      if (!isObject(track.userData)) throw bad('track.userData must be an object');
      update.userData = track.userData;
    }
  } else if (hasEncodedTrack) {
    if (body.encodedTrack !== null && typeof body.encodedTrack !== 'string')
      throw bad('encodedTrack must be a string or null');
    if (hasIdentifier) throw bad('Cannot specify both encodedTrack and identifier');
    update.newTrack = { encoded: body.encodedTrack };
  } else if (hasIdentifier) {
    if (typeof body.identifier !== 'string') throw bad('identifier must be a string');
    update.newTrack = { identifier: body.identifier };
  }
  if (body.filters !== undefined && body.filters !== null) update.filters = parseFilters(body.filters);
  if (body.voice !== undefined && body.voice !== null) update.voice = parseVoice(body.voice);
  if (body.endTime !== undefined) {
    if (body.endTime === null) update.endTime = null;
    else {
      const endTime = int(body.endTime, 'endTime');
      if (endTime <= 0) throw bad('End time must be greater than 0');
      update.endTime = endTime;
    }
  }
  if (body.position !== undefined && body.position !== null) {
    const position = int(body.position, 'position');
    if (position < 0) throw bad('position must not be negative');
    update.position = position;
  }
  if (body.volume !== undefined && body.volume !== null) {
    const volume = int(body.volume, 'volume');
    if (volume < 0 || volume > 1000) throw bad('Volume must be between 0 and 1000');
    update.volume = volume;
  }
  if (body.paused !== undefined && body.paused !== null) {
    if (typeof body.paused !== 'boolean') throw bad('paused must be a boolean');
    update.paused = body.paused;
  }
  return update;
}
