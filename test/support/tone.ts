/**
 * Test audio. Free of vitest, so child processes (the @discordjs/voice bot) can import it too.
 */

/** s16le 48 kHz stereo sine, in irregular chunk sizes. */
export function sinePcm(ms: number, hz = 440): Buffer {
  const samples = (48_000 * ms) / 1000;
  const pcm = Buffer.alloc(samples * 4);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * hz * i) / 48_000) * 12_000);
    pcm.writeInt16LE(v, i * 4);
    pcm.writeInt16LE(v, i * 4 + 2);
  }
  return pcm;
}
