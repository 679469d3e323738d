/**
 * The import floors of ARCHITECTURE.md, checked on the source: every import in src/ (static,
 * re-export, dynamic, `import('...')` types) goes from a folder to a folder on a lower floor, so
 * folders form no circle; files form no circle either (beyond the few listed below, each with the
 * work that removes it); folder index.ts files are faces (re-exports only); the discord.js-voice
 * compat layer reaches voxcord only through the package root. A new folder must be given a floor.
 * The floors and the upward exceptions live in scripts/import-floors.js, which `eslint .` also
 * enforces (rule voxcord/import-floors).
 */
import ts from 'typescript';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import {
  FLOORS,
  UPWARD_EXCEPTIONS,
  floorOfFolder,
  floorViolation,
  folderOf,
  importFloorsPlugin,
} from '../../scripts/import-floors.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** File circles that exist today (files sorted), each with the change that removes it. */
const CYCLE_EXCEPTIONS: ReadonlyMap<string, string> = new Map([
  // Type-only: a connection subscribes a player, a player plays to connections (as in @discordjs/voice).
  ['src/compat/discordjs-voice/connection.ts, src/compat/discordjs-voice/player.ts', 'type-only'],
]);

interface Import {
  from: string;
  to: string;
  line: number;
}

function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(SRC, f))
    .sort();
}

const rel = (file: string): string => relative(ROOT, file).split(sep).join('/');

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

function importsOf(source: ts.SourceFile): Import[] {
  const found: Import[] = [];
  const add = (specifier: ts.Node | undefined): void => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    if (!specifier.text.startsWith('.')) return;
    const target = resolve(dirname(source.fileName), specifier.text.replace(/\.js$/, '.ts'));
    if (!target.startsWith(SRC + sep) || !existsSync(target)) return;
    const line = source.getLineAndCharacterOfPosition(specifier.getStart()).line + 1;
    found.push({ from: source.fileName, to: target, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Strongly connected components of more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.map(rel).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return out;
}

const files = sourceFiles();
const parsed = new Map(files.map((f) => [f, parse(f)]));
const imports = files.flatMap((f) => importsOf(parsed.get(f)!));

describe('import floors (ARCHITECTURE.md)', () => {
  it('gives every folder of src/ a floor', () => {
    const folders = [...new Set(files.map((f) => folderOf(SRC, f)!))].sort();
    expect(folders.filter((f) => floorOfFolder(f) === undefined)).toEqual([]);
    expect(FLOORS.flat().filter((f) => !folders.includes(f))).toEqual([]);
  });

  it('has no upward or sideways arrow between folders (and so no folder circle)', () => {
    const upward: string[] = [];
    const excepted = new Set<string>();
    for (const { from, to, line } of imports) {
      const arrow = `${rel(from)} -> ${rel(to)}`;
      if (UPWARD_EXCEPTIONS.has(arrow)) excepted.add(arrow);
      const why = floorViolation(ROOT, from, to);
      if (why !== undefined) upward.push(`${rel(from)}:${line} imports ${rel(to)}: ${why}`);
    }
    expect(upward).toEqual([]);
    // An exception whose arrow is gone is removed from the list.
    expect([...UPWARD_EXCEPTIONS.keys()].filter((arrow) => !excepted.has(arrow))).toEqual([]);
  });

  it('has no circle between files beyond the listed ones', () => {
    const graph = new Map<string, string[]>(files.map((f) => [f, []]));
    for (const { from, to } of imports) graph.get(from)!.push(to);
    const found = circles(graph).map((c) => c.join(', '));
    expect(found.filter((c) => !CYCLE_EXCEPTIONS.has(c)).sort()).toEqual([]);
    expect([...CYCLE_EXCEPTIONS.keys()].filter((c) => !found.includes(c))).toEqual([]);
  });

  it('keeps index.ts files as faces: re-exports only', () => {
    const offending: string[] = [];
    for (const file of files.filter((f) => f.endsWith(`${sep}index.ts`))) {
      const statements = parsed.get(file)!.statements;
      const code = statements.filter((s) => !(ts.isExportDeclaration(s) && s.moduleSpecifier !== undefined));
      if (code.length === 0) continue;
      const line = parsed.get(file)!.getLineAndCharacterOfPosition(code[0]!.getStart()).line + 1;
      offending.push(`${rel(file)}:${line}: ${ts.SyntaxKind[code[0]!.kind]}`);
    }
    expect(offending).toEqual([]);
  });

  it('lets voxcord/discordjs-voice reach voxcord only through the package root', () => {
    const compat = join(SRC, 'compat');
    const root = join(SRC, 'index.ts');
    const outside = imports
      .filter(({ from, to }) => from.startsWith(compat + sep) && !to.startsWith(compat + sep) && to !== root)
      .map(({ from, to, line }) => `${rel(from)}:${line} imports ${rel(to)}`);
    expect(outside).toEqual([]);
  });

  it('is the ESLint rule voxcord/import-floors too', () => {
    const linter = new Linter({ cwd: ROOT, configType: 'flat' });
    const config: Linter.Config[] = [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { voxcord: importFloorsPlugin },
        rules: { 'voxcord/import-floors': 'error' },
      },
    ];
    const lint = (file: string, code: string): string[] =>
      linter.verify(code, config, join(ROOT, file)).map((m) => m.message);
    expect(lint('src/voice/x.ts', "import { joinVoiceChannel } from '../gateway/registry.js';\n")).toEqual([
      'voice (floor 6) may not import gateway (floor 8): see the floors in scripts/import-floors.js',
    ]);
    expect(lint('src/audio/x.ts', "export * from '../dave/index.js';\n")).toHaveLength(1); // a sibling
    expect(lint('src/dave/mls/x.ts', "type T = import('../../media/rtp.js').RtpHeader;\n")).toHaveLength(1);
    expect(
      lint('src/gateway/x.ts', "import '../voice/session.js';\nvoid import('./registry.js');\n"),
    ).toEqual([]);
    expect(lint('src/node/x.ts', "import { say } from '../cli/io.js';\n")).toHaveLength(1);
  });

  it('sees the arrows it checks (the parser finds imports of every kind)', () => {
    // A check that saw no imports could not fail: the graph must be the real one.
    const arrows = new Set(imports.map(({ from, to }) => `${rel(from)} -> ${rel(to)}`));
    expect(arrows.has('src/gateway/voice-connection.ts -> src/voice/session.ts')).toBe(true);
    expect(imports.length).toBeGreaterThan(500);
    const probe = ts.createSourceFile(
      join(SRC, 'x', 'probe.ts'),
      "import a from '../util/bytes.js';\nexport * from '../errors.js';\ntype T = import('../protocol/constants.js').X;\nvoid import('../media/rtp.js');\n",
      ts.ScriptTarget.Latest,
      true,
    );
    expect(importsOf(probe).map((i) => rel(i.to))).toEqual([
      'src/util/bytes.ts',
      'src/errors.ts',
      'src/protocol/constants.ts',
      'src/media/rtp.ts',
    ]);
  });
});
