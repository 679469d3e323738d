/**
 * The import floors of ARCHITECTURE.md: one table, read by the ESLint rule below (`eslint .`) and
 * by test/architecture/import-floors.test.ts (which also checks file circles and faces). Plain
 * JavaScript so that eslint.config.js can load it; types in import-floors.d.ts.
 */
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * Floors, lowest first. A folder of src/ imports only from folders on lower floors (not from a
 * sibling on its own floor). `errors` and `index` are the files src/errors.ts and src/index.ts.
 */
export const FLOORS = [
  ['errors'],
  ['util'],
  ['protocol'], // constants and the voice gateway wire codec, shared by client and local server
  ['crypto'], // AES, GHASH, GCM, XChaCha: one home each
  ['audio', 'dave'], // PCM/Ogg/Opus building blocks; DAVE (MLS, ratchets, frame encryption)
  ['media'], // the media engine: encrypts DAVE frames at send time, so above dave
  ['voice'], // the voice gateway client
  ['player', 'receive'],
  ['gateway'], // VoiceConnection: owns a session, its receiver and playback
  ['diagnostics', 'node', 'server'],
  ['cli'],
  ['index'], // the package root: only re-exports faces
  ['compat'], // voxcord/discordjs-voice, on the public API only
];

/**
 * Upward file arrows tolerated for a while ("from -> to", repository paths, each with the change
 * that removes it). None today; the test fails on a listed arrow that is gone.
 */
export const UPWARD_EXCEPTIONS = new Map([]);

const floorOf = new Map(FLOORS.flatMap((names, floor) => names.map((name) => [name, floor])));

/** The floor of a folder name, or undefined for a folder the table does not know. */
export function floorOfFolder(folder) {
  return floorOf.get(folder);
}

/** The folder of src/ that `file` (absolute) belongs to, or undefined outside `src`. */
export function folderOf(src, file) {
  const path = relative(src, file);
  if (path.startsWith('..') || path === '') return undefined;
  const parts = path.split(sep);
  return parts.length === 1 ? parts[0].replace(/\.ts$/, '') : parts[0];
}

/**
 * Why the import of `target` from `file` (both absolute) breaks the floors, or undefined when it
 * does not (or is a listed exception).
 */
export function floorViolation(root, file, target) {
  const src = resolve(root, 'src');
  const a = folderOf(src, file);
  const b = folderOf(src, target);
  if (a === undefined || b === undefined || a === b) return undefined;
  const from = floorOf.get(a);
  const to = floorOf.get(b);
  if (from === undefined) return `src/${a} has no floor: give it one in scripts/import-floors.js`;
  if (to === undefined) return `src/${b} has no floor: give it one in scripts/import-floors.js`;
  if (to < from) return undefined;
  const arrow = `${relative(root, file).split(sep).join('/')} -> ${relative(root, target).split(sep).join('/')}`;
  if (UPWARD_EXCEPTIONS.has(arrow)) return undefined;
  return `${a} (floor ${from}) may not import ${b} (floor ${to}): see the floors in scripts/import-floors.js`;
}

/** ESLint plugin with one rule, `import-floors`, over static, re-export, dynamic and type imports. */
export const importFloorsPlugin = {
  rules: {
    'import-floors': {
      meta: {
        type: 'problem',
        docs: { description: 'imports go down the floors of ARCHITECTURE.md' },
        schema: [],
      },
      create(context) {
        const root = context.cwd;
        const check = (source) => {
          if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
          if (!source.value.startsWith('.')) return;
          const target = resolve(dirname(context.filename), source.value.replace(/\.js$/, '.ts'));
          const why = floorViolation(root, context.filename, target);
          if (why !== undefined) context.report({ node: source, message: why });
        };
        return {
          ImportDeclaration: (node) => check(node.source),
          ExportNamedDeclaration: (node) => check(node.source),
          ExportAllDeclaration: (node) => check(node.source),
          ImportExpression: (node) => check(node.source),
          TSImportType: (node) =>
            check(node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument),
        };
      },
    },
  },
};
