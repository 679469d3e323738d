/**
 * The public surface of the package, read with the TypeScript compiler from its entry points
 * (src/index.ts and src/compat/discordjs-voice/index.ts): one report per entry, listing every
 * export with its signature, and the types that public signatures use but no entry exports.
 *
 * The report prints declarations as written (type annotations as source text, comments removed),
 * and falls back to the checker's view only where a type is inferred. Members that are private or
 * marked `@internal` are left out, as `stripInternal` leaves them out of the `.d.ts`.
 * `npm run api:report` writes the reports to api/; test/api/api-report.test.ts fails when they are stale.
 */
import ts from 'typescript';
import { join, relative, resolve, sep } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');

export interface Entry {
  /** How a consumer imports it. */
  readonly specifier: string;
  /** Source file of the entry, relative to the repository. */
  readonly source: string;
  /** Report file, relative to the repository. */
  readonly report: string;
}

export const ENTRIES: readonly Entry[] = [
  { specifier: 'voxcord', source: 'src/index.ts', report: 'api/voxcord.api.md' },
  {
    specifier: 'voxcord/discordjs-voice',
    source: 'src/compat/discordjs-voice/index.ts',
    report: 'api/voxcord-discordjs-voice.api.md',
  },
];

export interface ApiSurface {
  /** Report text per entry (same order as ENTRIES). */
  readonly reports: string[];
  /** Types declared in src/ that a public signature uses and no entry exports ("Name (file): used by ..."). */
  readonly unexported: string[];
}

const declarationFiles = new Map<string, ts.SourceFile>();
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
const TYPE_FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;

function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal');
}

function isPrivate(declaration: ts.Declaration): boolean {
  const name = ts.getNameOfDeclaration(declaration);
  if (name !== undefined && ts.isPrivateIdentifier(name)) return true;
  return (ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Private) !== 0;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\{ \}/g, '{}').replace(/; \}/g, ' }').trim();
}

export interface ApiSurfaceOptions {
  /** Repository root (default: this one); its src/ holds the declarations that must be exported. */
  root?: string;
  entries?: readonly Entry[];
  /** Default: tsconfig.build.json's. */
  compilerOptions?: ts.CompilerOptions;
}

function buildOptions(root: string): ts.CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (config === undefined) throw new Error('cannot read tsconfig.build.json');
  return config.options;
}

export function readApiSurface(options: ApiSurfaceOptions = {}): ApiSurface {
  const root = options.root ?? ROOT;
  const entries = options.entries ?? ENTRIES;
  const src = join(root, 'src');
  const compilerOptions = { ...(options.compilerOptions ?? buildOptions(root)), noEmit: true };
  const host = ts.createCompilerHost(compilerOptions);
  const read = host.getSourceFile.bind(host);
  // Declaration files (TypeScript's lib, @types) do not change between calls: parse them once.
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (!fileName.endsWith('.d.ts')) return read(fileName, languageVersion, ...rest);
    const key = `${fileName}\0${JSON.stringify(languageVersion)}`;
    let file = declarationFiles.get(key);
    if (file === undefined) {
      file = read(fileName, languageVersion, ...rest);
      if (file !== undefined) declarationFiles.set(key, file);
    }
    return file;
  };
  const program = ts.createProgram({
    rootNames: entries.map((e) => join(root, e.source)),
    options: compilerOptions,
    host,
  });
  const checker = program.getTypeChecker();
  const inSrc = (declaration: ts.Declaration): boolean =>
    resolve(declaration.getSourceFile().fileName).startsWith(src + sep) &&
    !declaration.getSourceFile().isDeclarationFile;

  /** True when some link of the export's alias chain is `export type` / `import type`. */
  const isTypeOnlyExport = (symbol: ts.Symbol): boolean => {
    for (let link: ts.Symbol | undefined = symbol; link !== undefined && link.flags & ts.SymbolFlags.Alias;) {
      if ((link.declarations ?? []).some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) return true;
      link = checker.getImmediateAliasedSymbol(link);
    }
    return false;
  };

  const resolveAlias = (symbol: ts.Symbol): ts.Symbol =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

  const entryExports = entries.map((entry) => {
    const file = program.getSourceFile(join(root, entry.source));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (moduleSymbol === undefined) throw new Error(`no module symbol for ${entry.source}`);
    return checker
      .getExportsOfModule(moduleSymbol)
      .map((s) => ({ name: s.name, symbol: resolveAlias(s), typeOnly: isTypeOnlyExport(s) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  });

  // Every symbol a consumer can name: the entries' exports and what their namespaces hold.
  const exported = new Set<ts.Symbol>();
  const addExported = (symbol: ts.Symbol): void => {
    if (exported.has(symbol)) return;
    exported.add(symbol);
    if (symbol.flags & ts.SymbolFlags.ValueModule)
      for (const inner of checker.getExportsOfModule(symbol)) addExported(resolveAlias(inner));
  };
  for (const list of entryExports) for (const { symbol } of list) addExported(symbol);

  // Types that public signatures reach, checked against `exported`.
  const unexported = new Map<ts.Symbol, string>();
  const seenTypes = new Set<ts.Type>();
  const walkedSymbols = new Set<ts.Symbol>();

  /** True when the walk should stop at `symbol` (exported, or not ours). */
  const noteSymbol = (symbol: ts.Symbol, usedBy: string): boolean => {
    const declarations = symbol.declarations ?? [];
    if (declarations.length === 0 || !declarations.some(inSrc)) return true;
    if (symbol.flags & ts.SymbolFlags.TypeParameter) return true;
    if (exported.has(symbol) && !declarations.some(isInternal)) return true;
    if (!unexported.has(symbol)) {
      const file = relative(root, declarations[0]!.getSourceFile().fileName);
      unexported.set(symbol, `${symbol.name} (${file}): used by ${usedBy}`);
    }
    return false;
  };

  const walkSignature = (signature: ts.Signature, usedBy: string): void => {
    for (const parameter of signature.getParameters()) walkType(checker.getTypeOfSymbol(parameter), usedBy);
    walkType(checker.getReturnTypeOfSignature(signature), usedBy);
    for (const tp of signature.getTypeParameters() ?? []) {
      const constraint = tp.getConstraint();
      if (constraint !== undefined) walkType(constraint, usedBy);
    }
  };

  /** `structure`: walk what the type holds even when it is a named alias (the alias's own entry). */
  const walkType = (type: ts.Type, usedBy: string, structure = false): void => {
    if (!structure) {
      if (seenTypes.has(type)) return;
      seenTypes.add(type);
    }
    if (type.aliasSymbol !== undefined && !structure) {
      for (const argument of type.aliasTypeArguments ?? []) walkType(argument, usedBy);
      if (noteSymbol(type.aliasSymbol, usedBy)) return;
    }
    if (type.isUnionOrIntersection()) {
      for (const part of type.types) walkType(part, usedBy);
      return;
    }
    if (type.flags & ts.TypeFlags.EnumLiteral && type.symbol !== undefined) {
      const parent = (type.symbol as ts.Symbol & { parent?: ts.Symbol }).parent;
      noteSymbol(parent ?? type.symbol, usedBy);
      return;
    }
    if (type.flags & ts.TypeFlags.TypeParameter) return;
    if (type.flags & ts.TypeFlags.Index) return walkType((type as ts.IndexType).type, usedBy);
    if (type.flags & ts.TypeFlags.IndexedAccess) {
      walkType((type as ts.IndexedAccessType).objectType, usedBy);
      walkType((type as ts.IndexedAccessType).indexType, usedBy);
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return;
    const object = type as ts.ObjectType;
    if (object.objectFlags & ts.ObjectFlags.Reference) {
      for (const argument of checker.getTypeArguments(object as ts.TypeReference)) walkType(argument, usedBy);
      const target = (object as ts.TypeReference).target;
      if (target !== object) return walkType(target, usedBy);
    }
    const symbol = type.getSymbol();
    const named =
      symbol !== undefined &&
      (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.Enum)) !== 0;
    if (named) {
      if (noteSymbol(symbol, usedBy)) return;
      walkSymbol(symbol, symbol.name);
      return;
    }
    // Anonymous object, function or mapped type: what it holds is public too.
    for (const property of type.getProperties()) {
      const declaration = property.valueDeclaration ?? property.declarations?.[0];
      if (declaration !== undefined && (isPrivate(declaration) || isInternal(declaration))) continue;
      walkType(checker.getTypeOfSymbol(property), usedBy);
    }
    for (const signature of type.getCallSignatures()) walkSignature(signature, usedBy);
    for (const signature of type.getConstructSignatures()) walkSignature(signature, usedBy);
    for (const info of checker.getIndexInfosOfType(type)) walkType(info.type, usedBy);
  };

  /** Walks the public members of a declared symbol (an export, or an unexported type it reaches). */
  const walkSymbol = (symbol: ts.Symbol, label: string): void => {
    if (walkedSymbols.has(symbol)) return;
    walkedSymbols.add(symbol);
    const flags = symbol.flags;
    if (flags & ts.SymbolFlags.ValueModule) {
      for (const inner of checker.getExportsOfModule(symbol)) {
        const target = resolveAlias(inner);
        walkSymbol(target, `${label}.${inner.name}`);
      }
      return;
    }
    if (flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) {
      const declared = checker.getDeclaredTypeOfSymbol(symbol);
      for (const base of checker.getBaseTypes(declared as ts.InterfaceType)) walkType(base, label);
      for (const member of ownMembers(symbol)) {
        walkType(checker.getTypeOfSymbol(member), `${label}.${member.name}`);
      }
      for (const signature of declared.getCallSignatures()) walkSignature(signature, label);
      for (const info of checker.getIndexInfosOfType(declared)) walkType(info.type, label);
    }
    if (flags & ts.SymbolFlags.TypeAlias) {
      // The aliased structure, not the alias itself (which would stop at its own name).
      walkType(checker.getDeclaredTypeOfSymbol(symbol), label, true);
    }
    if (flags & ts.SymbolFlags.Class) {
      const statics = checker.getTypeOfSymbol(symbol);
      for (const signature of statics.getConstructSignatures()) walkSignature(signature, `new ${label}`);
      for (const member of staticMembers(symbol))
        walkType(checker.getTypeOfSymbol(member), `${label}.${member.name}`);
    } else if (flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Variable)) {
      walkType(checker.getTypeOfSymbol(symbol), label);
    }
  };

  const isPublicMember = (member: ts.Symbol): boolean => {
    const declarations = member.declarations ?? [];
    if (declarations.length === 0) return true;
    return !declarations.some((d) => isPrivate(d) || isInternal(d));
  };
  const ownMembers = (symbol: ts.Symbol): ts.Symbol[] =>
    [...(symbol.members?.values() ?? [])].filter(
      (m) => !m.name.startsWith('__') && !(m.flags & ts.SymbolFlags.TypeParameter) && isPublicMember(m),
    );
  const staticMembers = (symbol: ts.Symbol): ts.Symbol[] =>
    [...(symbol.exports?.values() ?? [])].filter(
      (m) => m.name !== 'prototype' && !(m.flags & ts.SymbolFlags.TypeParameter) && isPublicMember(m),
    );

  for (const list of entryExports) for (const { name, symbol } of list) walkSymbol(symbol, name);

  // ---- printing ----
  const typeText = (node: ts.TypeNode | undefined, fallback: () => ts.Type): string =>
    node !== undefined
      ? oneLine(printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile()))
      : checker.typeToString(fallback(), undefined, TYPE_FLAGS);

  const printNode = (node: ts.Node): string =>
    oneLine(printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile()));

  const typeParameters = (node: { typeParameters?: ts.NodeArray<ts.TypeParameterDeclaration> }): string =>
    node.typeParameters === undefined ? '' : `<${node.typeParameters.map(printNode).join(', ')}>`;

  const parameterText = (p: ts.ParameterDeclaration): string => {
    const rest = p.dotDotDotToken !== undefined ? '...' : '';
    const optional = p.questionToken !== undefined || p.initializer !== undefined ? '?' : '';
    const name = printNode(p.name);
    const type = typeText(p.type, () => checker.getTypeAtLocation(p));
    return `${rest}${name}${optional}: ${type}`;
  };

  const signatureText = (d: ts.SignatureDeclaration): string => {
    const parameters = d.parameters.map(parameterText).join(', ');
    const returns =
      d.kind === ts.SyntaxKind.Constructor
        ? ''
        : `: ${typeText(d.type, () => {
            const signature = checker.getSignatureFromDeclaration(d);
            return signature === undefined
              ? checker.getAnyType()
              : checker.getReturnTypeOfSignature(signature);
          })}`;
    return `${typeParameters(d)}(${parameters})${returns}`;
  };

  const modifiersText = (d: ts.Declaration): string => {
    const flags = ts.getCombinedModifierFlags(d);
    return [
      flags & ts.ModifierFlags.Protected ? 'protected ' : '',
      flags & ts.ModifierFlags.Static ? 'static ' : '',
      flags & ts.ModifierFlags.Abstract ? 'abstract ' : '',
      flags & ts.ModifierFlags.Readonly ? 'readonly ' : '',
    ].join('');
  };

  /** One line per public member of a class or interface body. */
  const memberLines = (members: readonly ts.Symbol[]): string[] => {
    const lines: string[] = [];
    for (const member of members) {
      const declarations = member.declarations ?? [];
      const accessors = declarations.filter(
        (d) => ts.isGetAccessorDeclaration(d) || ts.isSetAccessorDeclaration(d),
      );
      if (accessors.length > 0) {
        const getter = accessors.find(ts.isGetAccessorDeclaration);
        const modifiers = modifiersText(accessors[0]!).replace('readonly ', '');
        const type =
          getter !== undefined
            ? typeText(getter.type, () => checker.getTypeOfSymbol(member))
            : checker.typeToString(checker.getTypeOfSymbol(member), undefined, TYPE_FLAGS);
        // As the .d.ts has it: a getter alone is `get name(): T`.
        lines.push(
          getter !== undefined && accessors.length === 1
            ? `${modifiers}get ${member.name}(): ${type};`
            : `${modifiers}${member.name}: ${type};`,
        );
        continue;
      }
      for (const d of declarations) {
        const name = ts.getNameOfDeclaration(d);
        const nameText = name === undefined ? member.name : printNode(name);
        if (ts.isConstructorDeclaration(d)) {
          if (d.body !== undefined && declarations.length > 1) continue;
          if (isPrivate(d)) continue;
          lines.push(`${modifiersText(d)}constructor${signatureText(d)};`);
        } else if (ts.isMethodDeclaration(d) || ts.isMethodSignature(d)) {
          // Overloads: print the signatures, not the implementation.
          if (ts.isMethodDeclaration(d) && d.body !== undefined && declarations.length > 1) continue;
          const optional = d.questionToken !== undefined ? '?' : '';
          lines.push(`${modifiersText(d)}${nameText}${optional}${signatureText(d)};`);
        } else if (ts.isPropertyDeclaration(d) || ts.isPropertySignature(d)) {
          const optional = d.questionToken !== undefined ? '?' : '';
          const type = typeText(d.type, () => checker.getTypeOfSymbol(member));
          lines.push(`${modifiersText(d)}${nameText}${optional}: ${type};`);
        } else if (ts.isEnumMember(d)) {
          lines.push(`${nameText} = ${JSON.stringify(checker.getConstantValue(d))},`);
        } else {
          lines.push(`${printNode(d)}`);
        }
      }
    }
    return lines;
  };

  const heritage = (d: ts.ClassDeclaration | ts.InterfaceDeclaration): string =>
    (d.heritageClauses ?? []).map((h) => ` ${printNode(h)}`).join('');

  /** `head` may end with a ` // note`, which goes after the opening brace. */
  const block = (head: string, lines: string[], indent: string): string => {
    const at = head.indexOf(' // ');
    const [text, note] = at < 0 ? [head, ''] : [head.slice(0, at), head.slice(at)];
    return lines.length === 0
      ? `${indent}${text} {}${note}`
      : [`${indent}${text} {${note}`, ...lines.map((l) => `${indent}  ${l}`), `${indent}}`].join('\n');
  };

  const printExport = (name: string, symbol: ts.Symbol, indent: string, typeOnly = false): string[] => {
    const out: string[] = [];
    const declarations = symbol.declarations ?? [];
    const notes = [
      ...(name !== symbol.name && symbol.name !== 'default' ? [`declared as ${symbol.name}`] : []),
      // A class, function or constant exported with `export type`: no value at run time.
      ...(typeOnly && symbol.flags & ts.SymbolFlags.Value ? ['type only'] : []),
    ];
    const rename = notes.length === 0 ? '' : ` // ${notes.join('; ')}`;
    for (const d of declarations) {
      if (ts.isClassDeclaration(d)) {
        const abstract = ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Abstract ? 'abstract ' : '';
        const members = memberLines([...staticMembers(symbol), ...ownMembersWithConstructor(symbol)]);
        out.push(
          block(
            `export ${abstract}class ${name}${typeParameters(d)}${heritage(d)}${rename}`,
            members,
            indent,
          ),
        );
      } else if (ts.isInterfaceDeclaration(d)) {
        // Merged interface declarations print once, from the first.
        if (d !== declarations.find(ts.isInterfaceDeclaration)) continue;
        const extra = declarations
          .filter(ts.isInterfaceDeclaration)
          .flatMap((i) => i.members.filter((m) => m.name === undefined || ts.isIndexSignatureDeclaration(m)))
          .map((m) => `${printNode(m)}`);
        out.push(
          block(
            `export interface ${name}${typeParameters(d)}${heritage(d)}${rename}`,
            [...extra, ...memberLines(ownMembers(symbol))],
            indent,
          ),
        );
      } else if (ts.isTypeAliasDeclaration(d)) {
        out.push(`${indent}export type ${name}${typeParameters(d)} = ${printNode(d.type)};${rename}`);
      } else if (ts.isFunctionDeclaration(d)) {
        const overloads = declarations.filter(ts.isFunctionDeclaration);
        if (overloads.length > 1 && d.body !== undefined) continue;
        out.push(`${indent}export function ${name}${signatureText(d)};${rename}`);
      } else if (ts.isVariableDeclaration(d)) {
        const type = typeText(d.type, () => checker.getTypeOfSymbol(symbol));
        out.push(`${indent}export const ${name}: ${type};${rename}`);
      } else if (ts.isEnumDeclaration(d)) {
        out.push(
          block(`export enum ${name}${rename}`, memberLines([...(symbol.exports?.values() ?? [])]), indent),
        );
      } else if (ts.isSourceFile(d) || ts.isModuleDeclaration(d)) {
        const inner = checker
          .getExportsOfModule(symbol)
          .map((s) => ({ name: s.name, symbol: resolveAlias(s) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const lines = inner.flatMap((e) => printExport(e.name, e.symbol, `${indent}  `));
        out.push([`${indent}export namespace ${name} {`, ...lines, `${indent}}`].join('\n'));
      }
    }
    return out;
  };

  const ownMembersWithConstructor = (symbol: ts.Symbol): ts.Symbol[] => {
    const members = ownMembers(symbol);
    const constructor = symbol.members?.get('__constructor' as ts.__String);
    if (constructor === undefined) return members;
    return [constructor, ...members];
  };

  const reports = entries.map((entry, i) => {
    const body = entryExports[i]!.flatMap((e) => printExport(e.name, e.symbol, '', e.typeOnly));
    return [
      `# API report: \`${entry.specifier}\``,
      '',
      `Generated from \`${entry.source}\` by \`npm run api:report\`; do not edit. A change here is a change`,
      'of the public surface: review it as such.',
      '',
      '```ts',
      ...body,
      '```',
      '',
    ].join('\n');
  });

  return { reports, unexported: [...unexported.values()].sort() };
}
