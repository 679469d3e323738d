/**
 * The subpath against the real @discordjs/voice: every name it exports at run time is either
 * exported by voxcord/discordjs-voice, with the same enum values, or listed as not provided in
 * docs/migrating-from-discordjs-voice.md (and then really absent). A name @discordjs/voice adds
 * fails here until it is provided or documented.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as djs from '@discordjs/voice';
import * as compat from '../../../src/compat/discordjs-voice/index.js';

const DOC = resolve(import.meta.dirname, '../../../docs/migrating-from-discordjs-voice.md');

/** The top-level names of the doc's API table row marked **no**. */
function documentedAsMissing(): string[] {
  const row = readFileSync(DOC, 'utf8')
    .split('\n')
    .find((line) => line.startsWith('|') && line.trimEnd().endsWith('| **no** (see below) |'));
  expect(row, 'the API table has a **no** row').toBeDefined();
  return [...row!.matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1]!);
}

describe('voxcord/discordjs-voice exports', () => {
  it("has every name of @discordjs/voice's, or the migration guide says it is not provided", () => {
    const missing = documentedAsMissing();
    const theirs = Object.keys(djs).filter((name) => name !== 'default');
    const ours = new Set(Object.keys(compat));
    expect(theirs.filter((name) => !ours.has(name) && !missing.includes(name))).toEqual([]);
    expect(missing.filter((name) => ours.has(name))).toEqual([]);
  });

  it('its enums have the same members and values', () => {
    for (const name of [
      'AudioPlayerStatus',
      'EndBehaviorType',
      'NoSubscriberBehavior',
      'StreamType',
      'VoiceConnectionDisconnectReason',
      'VoiceConnectionStatus',
    ] as const) {
      expect({ name, values: { ...compat[name] } }).toEqual({ name, values: { ...djs[name] } });
    }
  });
});
