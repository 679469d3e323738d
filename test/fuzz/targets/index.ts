/** The fuzz target registry: every parser and codec that takes bytes or JSON from the network or files. */
import type { FuzzTarget } from '../engine.js';
import { containerTargets } from './containers.js';
import { daveTargets } from './dave.js';
import { lavalinkTargets } from './lavalink.js';
import { mediaTargets } from './media.js';
import { mlsTargets } from './mls.js';
import { mp4Targets } from './mp4.js';
import { stateTargets } from './state.js';
import { trackInfoTargets } from './track-info.js';
import { voiceMessageTargets } from './voice-messages.js';

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  ...voiceMessageTargets,
  ...mediaTargets,
  ...daveTargets,
  ...mlsTargets,
  ...containerTargets,
  ...trackInfoTargets,
  ...mp4Targets,
  ...stateTargets,
  ...lavalinkTargets,
];

export function findTargets(names: readonly string[] | undefined): FuzzTarget[] {
  if (names === undefined || names.length === 0) return [...FUZZ_TARGETS];
  return names.map((n) => {
    const t = FUZZ_TARGETS.find((x) => x.name === n);
    if (t === undefined)
      throw new Error(`unknown fuzz target ${n} (known: ${FUZZ_TARGETS.map((x) => x.name).join(', ')})`);
    return t;
  });
}
