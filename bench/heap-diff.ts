/**
 * Where a node's main-thread heap per player went (diagnostics): reads the two heap snapshots that
 * `VOXCORD_BENCH_MEMORY_SNAPSHOTS=dir` makes bench/node.ts write (before the players, after the
 * window) and prints, per player: the growth of live objects' own sizes by constructor; the
 * retained size (dominator tree, weak edges left out) of every class with about one instance per
 * player or more; and each object's own size charged to its innermost owner of a named class
 * (an AudioPlayer, a DaveSession, a TLSSocket...), so that the owners add up without overlap.
 *
 * Run: node --max-old-space-size=4096 --import tsx bench/heap-diff.ts <before> <after> <players>
 *        [--drill=object:DaveClient[,depth]]   (what one class retains, by path, averaged)
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  n: number;
  type: string[];
  name: string[];
  size: Float64Array;
  firstEdge: Uint32Array;
  edgeTo: Uint32Array;
  edgeType: string[];
  edgeName: (string | number)[];
}

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function load(file: string): Snapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const at = (field: string): number => meta.node_fields.indexOf(field);
  const [iType, iName, iSize, iEdges] = [at('type'), at('name'), at('self_size'), at('edge_count')];
  const n = raw.nodes.length / nf;
  const s: Snapshot = {
    n,
    type: new Array<string>(n),
    name: new Array<string>(n),
    size: new Float64Array(n),
    firstEdge: new Uint32Array(n + 1),
    edgeTo: new Uint32Array(raw.edges.length / ef),
    edgeType: new Array<string>(raw.edges.length / ef),
    edgeName: new Array<string | number>(raw.edges.length / ef),
  };
  let e = 0;
  for (let i = 0; i < n; i++) {
    s.type[i] = meta.node_types[0][raw.nodes[i * nf + iType]!]!;
    s.name[i] = raw.strings[raw.nodes[i * nf + iName]!]!;
    s.size[i] = raw.nodes[i * nf + iSize]!;
    s.firstEdge[i] = e;
    e += raw.nodes[i * nf + iEdges]!;
  }
  s.firstEdge[n] = e;
  for (let j = 0; j < s.edgeTo.length; j++) {
    const type = meta.edge_types[0][raw.edges[j * ef]!]!;
    const nameOrIndex = raw.edges[j * ef + 1]!;
    s.edgeType[j] = type;
    s.edgeName[j] = type === 'element' || type === 'hidden' ? nameOrIndex : raw.strings[nameOrIndex]!;
    s.edgeTo[j] = raw.edges[j * ef + 2]! / nf;
  }
  return s;
}

/** A node's class: objects, closures and native objects by name, the rest by type. */
function label(s: Snapshot, i: number): string {
  const t = s.type[i]!;
  if (t === 'object' || t === 'native' || t === 'closure') return `${t}:${s.name[i]}`;
  if (t === 'hidden' || t === 'synthetic') return `${t}:${s.name[i]!.slice(0, 40)}`;
  return t;
}

const followed = (s: Snapshot, j: number): boolean =>
  s.edgeType[j] !== 'weak' && s.edgeType[j] !== 'shortcut';

interface Dominators {
  /** Immediate dominator, -1 where unreachable. */
  idom: Int32Array;
  retained: Float64Array;
}

/** Cooper, Harvey and Kennedy's iterative dominators over the reverse postorder from node 0. */
function dominators(s: Snapshot): Dominators {
  const order = new Int32Array(s.n).fill(-1);
  const post: number[] = [];
  const next = Uint32Array.from(s.firstEdge.subarray(0, s.n));
  const seen = new Uint8Array(s.n);
  const stack = [0];
  seen[0] = 1;
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!;
    let pushed = false;
    while (next[v]! < s.firstEdge[v + 1]!) {
      const j = next[v]!++;
      const w = s.edgeTo[j]!;
      if (!followed(s, j) || seen[w] === 1) continue;
      seen[w] = 1;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) post.push(stack.pop()!);
  }
  const rpo = post.reverse();
  rpo.forEach((v, k) => (order[v] = k));
  const preds: number[][] = Array.from({ length: s.n }, () => []);
  for (const v of rpo)
    for (let j = s.firstEdge[v]!; j < s.firstEdge[v + 1]!; j++)
      if (followed(s, j)) preds[s.edgeTo[j]!]!.push(v);
  const idom = new Int32Array(s.n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (order[a]! > order[b]!) a = idom[a]!;
      while (order[b]! > order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let k = 1; k < rpo.length; k++) {
      const v = rpo[k]!;
      let d = -1;
      for (const p of preds[v]!) if (idom[p]! >= 0) d = d < 0 ? p : intersect(p, d);
      if (d >= 0 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = Float64Array.from(s.size);
  for (let k = rpo.length - 1; k > 0; k--) {
    const v = rpo[k]!;
    retained[idom[v]!] = retained[idom[v]!]! + retained[v]!;
  }
  return { idom, retained };
}

const kib = (bytes: number, players: number): string => (bytes / 1024 / players).toFixed(2).padStart(8);

function ownSizes(s: Snapshot, d: Dominators): Map<string, { count: number; bytes: number }> {
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.n; i++) {
    if (d.idom[i]! < 0) continue;
    const k = label(s, i);
    const x = out.get(k) ?? { count: 0, bytes: 0 };
    x.count++;
    x.bytes += s.size[i]!;
    out.set(k, x);
  }
  return out;
}

/** Classes that say nothing about who holds them: charged to their innermost named owner. */
const GENERIC =
  /^(object:(Object|Array|Map|Set|WeakMap|WeakSet|Promise|Generator|AsyncGenerator|Error|TypeError|Buffer|DataView|ArrayBuffer|[A-Za-z0-9]+Array|system \/ .*)|array|closure:.*|hidden:.*|native:system.*|string|number|code|concatenated string|sliced string|object shape|bigint|synthetic:.*)$/;

function owners(s: Snapshot, d: Dominators): Map<string, { owners: Set<number>; bytes: number }> {
  const ownerOf = new Int32Array(s.n).fill(-2);
  const find = (i: number): number => {
    const path: number[] = [];
    let c = i;
    let owner = -1;
    for (;;) {
      if (ownerOf[c] !== -2) {
        owner = ownerOf[c]!;
        break;
      }
      path.push(c);
      const up = d.idom[c]!;
      if (up < 0 || up === c) break;
      if (!GENERIC.test(label(s, up))) {
        owner = up;
        break;
      }
      c = up;
    }
    for (const p of path) ownerOf[p] = owner;
    return owner;
  };
  const out = new Map<string, { owners: Set<number>; bytes: number }>();
  for (let i = 0; i < s.n; i++) {
    if (d.idom[i]! < 0) continue;
    const owner = GENERIC.test(label(s, i)) ? find(i) : i;
    const k = owner < 0 ? '(no named owner: shared, module state, code)' : label(s, owner);
    const x = out.get(k) ?? { owners: new Set<number>(), bytes: 0 };
    if (owner >= 0) x.owners.add(owner);
    x.bytes += s.size[i]!;
    out.set(k, x);
  }
  return out;
}

function drill(s: Snapshot, d: Dominators, want: string, depth: number): void {
  const children = new Map<number, number[]>();
  for (let i = 0; i < s.n; i++) {
    const up = d.idom[i]!;
    if (up >= 0 && up !== i) (children.get(up) ?? children.set(up, []).get(up)!).push(i);
  }
  const edge = (p: number, c: number): string => {
    for (let j = s.firstEdge[p]!; j < s.firstEdge[p + 1]!; j++)
      if (s.edgeTo[j] === c) return `${s.edgeType[j]}:${s.edgeName[j]}`;
    return '(indirect)';
  };
  const sums = new Map<string, number>();
  const walk = (p: number, prefix: string, left: number): void => {
    for (const c of children.get(p) ?? []) {
      const k = `${prefix} / ${edge(p, c)}=${label(s, c)}`;
      sums.set(k, (sums.get(k) ?? 0) + d.retained[c]!);
      if (left > 1) walk(c, k, left - 1);
    }
  };
  const instances = [...Array(s.n).keys()].filter((i) => d.idom[i]! >= 0 && label(s, i) === want);
  for (const i of instances) walk(i, '', depth);
  const total = instances.reduce((n, i) => n + d.retained[i]!, 0);
  console.log(`\n${want}: ${instances.length} instances, ${kib(total, instances.length)} KiB retained each`);
  for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, 40))
    if (v / instances.length > 100) console.log(`${kib(v, instances.length)} KiB ${k}`);
}

function main(): void {
  const [beforeFile, afterFile, playersArg] = process.argv.slice(2);
  const players = Number(playersArg);
  if (beforeFile === undefined || afterFile === undefined || !(players > 0)) {
    console.error(
      'usage: bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> <players> [--drill=class[,depth]]',
    );
    process.exit(2);
  }
  const a = load(beforeFile);
  const b = load(afterFile);
  const da = dominators(a);
  const db = dominators(b);
  const ma = ownSizes(a, da);
  const mb = ownSizes(b, db);
  const total = (m: Map<string, { bytes: number }>): number =>
    [...m.values()].reduce((n, x) => n + x.bytes, 0);
  console.log(
    `live heap ${(total(ma) / 1048576).toFixed(1)} -> ${(total(mb) / 1048576).toFixed(1)} MiB: ` +
      `${kib(total(mb) - total(ma), players).trim()} KiB per player (ArrayBuffer data included)`,
  );
  console.log('\ngrowth of own sizes by class, per player: KiB, instances');
  const growth = [...mb].map(([k, x]) => {
    const o = ma.get(k) ?? { count: 0, bytes: 0 };
    return { k, bytes: x.bytes - o.bytes, count: x.count - o.count };
  });
  for (const g of growth.sort((x, y) => y.bytes - x.bytes).slice(0, 40))
    console.log(`${kib(g.bytes, players)} ${(g.count / players).toFixed(1).padStart(7)}  ${g.k}`);

  console.log(
    '\nretained by class (after; classes with at least 0.9 instances per player): KiB per player, instances, KiB each',
  );
  const retained = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < b.n; i++) {
    const k = label(b, i);
    if (db.idom[i]! < 0 || !/^(object|native|closure):/.test(k)) continue;
    const x = retained.get(k) ?? { count: 0, bytes: 0 };
    x.count++;
    x.bytes += db.retained[i]!;
    retained.set(k, x);
  }
  for (const [k, x] of [...retained]
    .filter(([, x]) => x.count >= players * 0.9)
    .sort((p, q) => q[1].bytes - p[1].bytes)
    .slice(0, 40))
    console.log(`${kib(x.bytes, players)} ${String(x.count).padStart(7)} ${kib(x.bytes, x.count)}  ${k}`);

  console.log('\nown sizes charged to the innermost named owner, growth per player: KiB, owners');
  const oa = owners(a, da);
  const ob = [...owners(b, db)].map(([k, x]) => {
    const o = oa.get(k);
    return { k, bytes: x.bytes - (o?.bytes ?? 0), count: x.owners.size - (o?.owners.size ?? 0) };
  });
  for (const x of ob.sort((p, q) => q.bytes - p.bytes).slice(0, 40))
    console.log(`${kib(x.bytes, players)} ${(x.count / players).toFixed(1).padStart(7)}  ${x.k}`);

  const drillArg = process.argv.find((x) => x.startsWith('--drill='));
  if (drillArg !== undefined) {
    const [want, depth] = drillArg.slice('--drill='.length).split(',');
    drill(b, db, want!, Number(depth ?? 3));
  }
}

main();
