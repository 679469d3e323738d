/**
 * generateDependencyReport() and `voxcord doctor`: what voxcord runs on in this process (Opus
 * library and build, transport crypto, DAVE, ffmpeg, Node), each missing piece with a one-line hint
 * of what to install. Like @discordjs/voice's report, and synchronous like it, so a bot can log it
 * at start-up. Every fact comes from the code path voxcord itself uses (loadOpus's libraries,
 * createTransportCipher's choice, the ffmpeg input's executable), not from a separate guess.
 */
import { spawnSync } from 'node:child_process';
import { getCiphers } from 'node:crypto';
import { OPUS_INSTALL_HINT, probeOpusLibraries } from '../audio/opus.js';
import type { OpusLibraryStatus } from '../audio/opus.js';
import { loadSodium } from '../media/sodium.js';
import { createTransportCipher } from '../media/transport-cipher.js';
import type { TransportBackend } from '../media/transport-cipher.js';
import { FFMPEG_INSTALL_HINT } from '../player/inputs/ffmpeg.js';
import { DAVE_PROTOCOL_VERSION, SUPPORTED_MODES, TRANSPORT_KEY_BYTES } from '../protocol/constants.js';
import { installedPackageVersion, voxcordVersion } from '../util/installed-package.js';

export interface DependencyReportOptions {
  /** Environment for FFMPEG_PATH and the PATH ffmpeg is looked up on (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** One line of the report: a name, what was found, and what to do when something is missing. */
interface Line {
  name: string;
  value: string;
  hint?: string;
  /** voxcord cannot send or receive audio without it. */
  required?: boolean;
}

interface Section {
  title: string;
  lines: Line[];
}

export const SODIUM_HINT =
  'optional: npm install sodium-native (faster XChaCha20 only; AES-256-GCM, the mode Discord prefers, does not use it)';
const OPUS_WASM_HINT =
  'works everywhere, at more CPU; for the native build use glibc Linux or macOS (x64, arm64) or Windows (x64) and unset OPUS_FORCE_WASM';

function opusSection(): Section {
  const libraries = probeOpusLibraries();
  const used = libraries.find((l) => l.usable);
  const describe = (l: OpusLibraryStatus): string =>
    l.version === undefined
      ? 'not installed'
      : `${l.version}${l.build ? ` (${l.build})` : ''}${l.usable ? '' : ` — does not load: ${l.error ?? 'unknown error'}`}`;
  const lines: Line[] = [
    used === undefined
      ? { name: 'in use', value: 'none', hint: OPUS_INSTALL_HINT, required: true }
      : {
          name: 'in use',
          value: `${used.name} ${describe(used)}`,
          ...(used.build === 'wasm' ? { hint: OPUS_WASM_HINT } : {}),
        },
  ];
  for (const l of libraries) lines.push({ name: l.name, value: describe(l) });
  return { title: 'Opus', lines };
}

function backendName(backend: TransportBackend | undefined): string {
  switch (backend) {
    case 'js':
      return 'pure TypeScript AES-256-GCM (node:crypto for large packets)';
    case 'node':
      return 'node:crypto';
    case 'sodium':
      return `sodium-native ${installedPackageVersion('sodium-native') ?? ''}`.trim();
    default:
      return 'unknown';
  }
}

function transportSection(): Section {
  const key = new Uint8Array(TRANSPORT_KEY_BYTES);
  const lines: Line[] = SUPPORTED_MODES.map((mode, i) => {
    let value: string;
    try {
      // The cipher voxcord would create for a session in this mode (the key is a dummy).
      value = backendName(createTransportCipher(mode, key).backend);
    } catch (err) {
      value = `unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }
    return { name: `${mode}${i === 0 ? ' (preferred)' : ''}`, value };
  });
  const ciphers = getCiphers();
  lines.push({
    name: 'node:crypto',
    value: `OpenSSL ${process.versions.openssl ?? '?'}, aes-256-gcm ${ciphers.includes('aes-256-gcm') ? 'yes' : 'no'}, chacha20-poly1305 ${ciphers.includes('chacha20-poly1305') ? 'yes' : 'no'}`,
  });
  const sodium = loadSodium();
  const sodiumVersion = installedPackageVersion('sodium-native');
  lines.push(
    sodium !== null
      ? { name: 'sodium-native', value: sodiumVersion ?? 'loaded' }
      : {
          name: 'sodium-native',
          value: sodiumVersion === undefined ? 'not installed' : `${sodiumVersion}, does not load here`,
          hint: SODIUM_HINT,
        },
  );
  return { title: 'Transport encryption', lines };
}

function daveSection(): Section {
  return {
    title: 'DAVE (end-to-end encryption)',
    lines: [
      { name: 'implementation', value: `pure TypeScript, protocol version ${DAVE_PROTOCOL_VERSION}` },
      { name: 'MLS', value: 'built in (RFC 9420, cipher suite 2 on node:crypto)' },
      { name: 'frame encryption', value: 'pure TypeScript AES-128-GCM' },
    ],
  };
}

/** ffmpeg's version line, run the way the ffmpeg input runs it ($FFMPEG_PATH, else ffmpeg on PATH). */
function ffmpegSection(env: Readonly<Record<string, string | undefined>>): Section {
  const fromEnv = env['FFMPEG_PATH'];
  const path = fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : 'ffmpeg';
  const run = spawnSync(path, ['-hide_banner', '-version'], {
    env: { ...env },
    encoding: 'utf8',
    timeout: 10_000,
    windowsHide: true,
  });
  const first = typeof run.stdout === 'string' ? (run.stdout.split('\n')[0]?.trim() ?? '') : '';
  if (run.error !== undefined || run.status !== 0 || first === '') {
    const why =
      (run.error as { code?: unknown } | undefined)?.code === 'ENOENT'
        ? `not found (tried "${path}")`
        : `"${path}" does not run (${run.error?.message ?? `exit ${run.status ?? run.signal ?? '?'}`})`;
    return {
      title: 'FFmpeg',
      lines: [
        {
          name: 'ffmpeg',
          value: `${why}; needed only to play URLs and files other than Ogg/WebM Opus`,
          hint: FFMPEG_INSTALL_HINT,
        },
      ],
    };
  }
  return { title: 'FFmpeg', lines: [{ name: 'ffmpeg', value: `${first} (${path})` }] };
}

function nodeSection(): Section {
  const major = Number(process.versions.node.split('.')[0]);
  return {
    title: 'Runtime',
    lines: [
      { name: 'voxcord', value: voxcordVersion() },
      {
        name: 'Node.js',
        value: `${process.version} (${process.platform} ${process.arch})`,
        ...(major < 20 ? { hint: 'voxcord needs Node.js 20 or newer', required: true } : {}),
      },
    ],
  };
}

function formatDependencyReport(sections: readonly Section[]): string {
  const rule = '-'.repeat(60);
  const out = [rule, 'voxcord dependency report'];
  for (const section of sections) {
    out.push('', section.title);
    for (const line of section.lines) {
      out.push(`- ${line.name}: ${line.value}`);
      if (line.hint !== undefined) out.push(`  hint: ${line.hint}`);
    }
  }
  out.push(rule);
  return out.join('\n');
}

/** The report, and the names of missing pieces voxcord cannot work without (`voxcord doctor` exits 1). */
export function checkDependencies(options: DependencyReportOptions = {}): {
  text: string;
  missingRequired: string[];
} {
  const sections = [
    nodeSection(),
    opusSection(),
    transportSection(),
    daveSection(),
    ffmpegSection(options.env ?? process.env),
  ];
  const missingRequired = sections.flatMap((s) =>
    s.lines.filter((l) => l.required === true).map((l) => `${s.title}: ${l.name}`),
  );
  return { text: formatDependencyReport(sections), missingRequired };
}

/**
 * The dependency report as text, like @discordjs/voice's generateDependencyReport(): Opus library
 * and build, transport crypto, DAVE, ffmpeg, Node, with a hint for each missing piece.
 */
export function generateDependencyReport(options: DependencyReportOptions = {}): string {
  return checkDependencies(options).text;
}
