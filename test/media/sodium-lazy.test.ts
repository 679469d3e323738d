import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runNode } from '../helpers/node-script.js';

describe('sodium-native loading', () => {
  it('an AES-256-GCM session does not load sodium-native 5 (it has no AES-GCM); XChaCha does', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    const src = (file: string): string =>
      JSON.stringify(new URL(`../../src/media/${file}`, import.meta.url).href);
    const script = [
      "import { createRequire } from 'node:module';",
      `import { createTransportCipher } from ${src('transport-cipher.ts')};`,
      "const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('sodium-native') && !k.endsWith('package.json'));",
      'const key = new Uint8Array(32);',
      "const aes = createTransportCipher('aead_aes256_gcm_rtpsize', key);",
      'console.log(aes.backend, loaded());',
      "const xchacha = createTransportCipher('aead_xchacha20_poly1305_rtpsize', key);",
      'console.log(xchacha.backend, loaded());',
    ].join('\n');
    const { out, exit } = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], here);
    expect(exit).toBe(0);
    expect(out.trim().split('\n')).toEqual(['js false', 'sodium true']);
  }, 20_000);
});
