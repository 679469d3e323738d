/**
 * Optional sodium-native loader. sodium-native is an opt-in (an optional peer dependency the user
 * installs): when it is missing or fails to load (no prebuild for the platform), everything falls
 * back to node:crypto.
 */
import { createRequire } from 'node:module';

/** The subset of sodium-native (v4/v5 API) the transport cipher uses. */
export interface SodiumAead {
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Throws when authentication fails. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Present in some sodium-native versions only (not v5). */
  crypto_aead_aes256gcm_is_available?: () => boolean;
  crypto_aead_aes256gcm_encrypt?: SodiumAead['crypto_aead_xchacha20poly1305_ietf_encrypt'];
  crypto_aead_aes256gcm_decrypt?: SodiumAead['crypto_aead_xchacha20poly1305_ietf_decrypt'];
}

let cached: SodiumAead | null | undefined;

/** Loads sodium-native once; returns null when it is unavailable. Never throws. */
export function loadSodium(): SodiumAead | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const require = createRequire(import.meta.url);
    const mod = require('sodium-native') as Partial<SodiumAead> | null;
    if (
      mod &&
      typeof mod.crypto_aead_xchacha20poly1305_ietf_encrypt === 'function' &&
      typeof mod.crypto_aead_xchacha20poly1305_ietf_decrypt === 'function'
    ) {
      cached = mod as SodiumAead;
    }
  } catch {
    // Missing module or native load failure: node:crypto fallback.
  }
  return cached;
}

/** True when the loaded sodium-native offers hardware AES-256-GCM. */
export function sodiumHasAesGcm(sodium: SodiumAead): boolean {
  try {
    return (
      typeof sodium.crypto_aead_aes256gcm_encrypt === 'function' &&
      typeof sodium.crypto_aead_aes256gcm_decrypt === 'function' &&
      typeof sodium.crypto_aead_aes256gcm_is_available === 'function' &&
      sodium.crypto_aead_aes256gcm_is_available()
    );
  } catch {
    return false;
  }
}

/**
 * Whether loading sodium-native could give AES-256-GCM, decided from its package.json without
 * loading the native library (~1 MiB RSS per worker measured here): sodium-native 5 has no
 * AES-256-GCM, so a session in that mode need not load it. Unknown versions answer true.
 */
export function sodiumMayHaveAesGcm(): boolean {
  if (cached !== undefined) return cached !== null && sodiumHasAesGcm(cached);
  try {
    const pkg = createRequire(import.meta.url)('sodium-native/package.json') as { version?: unknown };
    const major = typeof pkg.version === 'string' ? Number.parseInt(pkg.version, 10) : Number.NaN;
    return !(major >= 5);
  } catch {
    return false; // not installed: nothing to load
  }
}
