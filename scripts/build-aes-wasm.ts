/**
 * Generates src/crypto/aes-ctr-wasm.generated.ts: the WebAssembly AES counter-mode core
 * (src/crypto/aes-wasm.ts) as WAT written out here with its rounds unrolled, assembled by wabt
 * (a devDependency: nothing is assembled or downloaded at run time), committed as base64.
 *
 * Run: npx tsx scripts/build-aes-wasm.ts [--check] (--check: exit 1 if the committed module
 * differs from what this script assembles; test/crypto/aes-wasm.test.ts runs it).
 *
 * The module: one memory (exported "mem") holding, from byte 0, the eight AES tables of
 * src/crypto/aes-tables.ts (TE0..TE3, S0..S3, 1 KiB each) byte-swapped, so that a state word is
 * a little-endian load of four state bytes (no byte swap per word). Exports ctr128 and ctr256:
 * (rk, iv0, iv1, iv2, counter, blocks, out) writes AES(IV ‖ counter + k) for k < blocks as
 * consecutive 16-byte blocks at `out`; `rk` points at the byte-swapped round keys (44 or 60
 * words), iv0..iv2 are the IV's first three words as little-endian loads, `counter` is the
 * big-endian counter value (swapped per block inside).
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const OUT = fileURLToPath(new URL('../src/crypto/aes-ctr-wasm.generated.ts', import.meta.url));

/** Byte `lane` (0: the first in memory) of a state word, times 4: a table index. */
function index(word: string, lane: number): string {
  const w = `(local.get ${word})`;
  switch (lane) {
    case 0:
      return `(i32.shl (i32.and ${w} (i32.const 255)) (i32.const 2))`;
    case 1:
      return `(i32.and (i32.shr_u ${w} (i32.const 6)) (i32.const 1020))`;
    case 2:
      return `(i32.and (i32.shr_u ${w} (i32.const 14)) (i32.const 1020))`;
    default:
      return `(i32.shl (i32.shr_u ${w} (i32.const 24)) (i32.const 2))`;
  }
}

/** One round from src into dst: the T-tables (TE0..TE3 at 0), or the S tables (at 4096) for the last. */
function round(src: string[], dst: string[], rkOffset: number, last: boolean): string {
  const base = last ? 4096 : 0;
  let out = '';
  for (let c = 0; c < 4; c++) {
    const t = [0, 1, 2, 3].map((j) => `(i32.load offset=${base + 1024 * j} ${index(src[(c + j) % 4]!, j)})`);
    out +=
      `    (local.set ${dst[c]} (i32.xor (i32.xor (i32.xor ${t[0]} ${t[1]}) (i32.xor ${t[2]} ${t[3]}))` +
      ` (i32.load offset=${rkOffset + 4 * c} (local.get $rk))))\n`;
  }
  return out;
}

/** A byte swap of an i32 expression. */
function bswap(e: string): string {
  return (
    `(i32.or (i32.and (i32.rotl ${e} (i32.const 8)) (i32.const 0x00ff00ff))` +
    ` (i32.and (i32.rotr ${e} (i32.const 8)) (i32.const 0xff00ff00)))`
  );
}

function ctrFunction(name: string, rounds: number): string {
  const s = ['$s0', '$s1', '$s2', '$s3'];
  const u = ['$u0', '$u1', '$u2', '$u3'];
  let body = '';
  // rounds - 1 full rounds alternate s -> u -> s; the odd count leaves the state in u.
  for (let r = 1; r < rounds; r++) body += round(r % 2 ? s : u, r % 2 ? u : s, 16 * r, false);
  body += round(u, s, 16 * rounds, true);
  return `
 (func (export "${name}") (param $rk i32) (param $iv0 i32) (param $iv1 i32) (param $iv2 i32)
  (param $ctr i32) (param $n i32) (param $out i32)
  (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32)
  (local $u0 i32) (local $u1 i32) (local $u2 i32) (local $u3 i32)
  (block $done
   (loop $block
    (br_if $done (i32.eqz (local.get $n)))
    (local.set $s0 (i32.xor (local.get $iv0) (i32.load offset=0 (local.get $rk))))
    (local.set $s1 (i32.xor (local.get $iv1) (i32.load offset=4 (local.get $rk))))
    (local.set $s2 (i32.xor (local.get $iv2) (i32.load offset=8 (local.get $rk))))
    ;; the counter word as a little-endian load: byte-swapped
    (local.set $s3 (i32.xor (i32.load offset=12 (local.get $rk)) ${bswap('(local.get $ctr)')}))
${body}    (i32.store offset=0 (local.get $out) (local.get $s0))
    (i32.store offset=4 (local.get $out) (local.get $s1))
    (i32.store offset=8 (local.get $out) (local.get $s2))
    (i32.store offset=12 (local.get $out) (local.get $s3))
    (local.set $out (i32.add (local.get $out) (i32.const 16)))
    (local.set $ctr (i32.add (local.get $ctr) (i32.const 1)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br $block))))`;
}

/** Where the GHASH reduction table sits: GHASH_R (src/crypto/aes-tables.ts) as i64 words << 32. */
export const GHASH_R64_OFFSET = 8192;

/** A byte swap of an i64 expression (in local $t). */
function bswap64(e: string): string {
  return `(local.set $t ${e})
    (local.set $t (i64.or (i64.shl (i64.and (local.get $t) (i64.const 0x00ff00ff00ff00ff)) (i64.const 8))
      (i64.and (i64.shr_u (local.get $t) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff))))
    (local.set $t (i64.or (i64.shl (i64.and (local.get $t) (i64.const 0x0000ffff0000ffff)) (i64.const 16))
      (i64.and (i64.shr_u (local.get $t) (i64.const 16)) (i64.const 0x0000ffff0000ffff))))
    (local.set $t (i64.rotl (local.get $t) (i64.const 32)))`;
}

/**
 * ghash(table, state, ptr, blocks): GHASH of `blocks` 16-byte blocks at `ptr` into the state at
 * `state` (two i64: the value's high and low halves), with a key's 'byte' table
 * (src/crypto/ghash.ts ByteGhash, its 1024 words as they are: an entry's i64 halves are the word
 * pairs rotated) at `table`: the same Shoup byte method as ByteGhash.block on 64-bit halves.
 */
function ghashFunction(): string {
  const bytes: Array<[string, number]> = [];
  for (const x of ['$xl', '$xh']) for (let shift = 0; shift < 64; shift += 8) bytes.push([x, shift]);
  const entry = ([x, shift]: [string, number]): string =>
    shift === 56
      ? `(i32.shl (i32.wrap_i64 (i64.shr_u (local.get ${x}) (i64.const 56))) (i32.const 4))`
      : `(i32.shl (i32.and (i32.wrap_i64 (i64.shr_u (local.get ${x}) (i64.const ${shift}))) (i32.const 255)) (i32.const 4))`;
  const load = (offset: number): string =>
    `(i64.rotl (i64.load offset=${offset} (local.get $i)) (i64.const 32))`;
  const steps: string[] = [
    `    (local.set $i (i32.add (local.get $table) ${entry(bytes[0]!)}))
    (local.set $zh ${load(0)})
    (local.set $zl ${load(8)})`,
  ];
  for (const b of bytes.slice(1)) {
    steps.push(`    (local.set $r (i64.load offset=${GHASH_R64_OFFSET} (i32.shl (i32.and (i32.wrap_i64 (local.get $zl)) (i32.const 255)) (i32.const 3))))
    (local.set $zl (i64.or (i64.shr_u (local.get $zl) (i64.const 8)) (i64.shl (local.get $zh) (i64.const 56))))
    (local.set $i (i32.add (local.get $table) ${entry(b)}))
    (local.set $zh (i64.xor (i64.xor (i64.shr_u (local.get $zh) (i64.const 8)) (local.get $r)) ${load(0)}))
    (local.set $zl (i64.xor (local.get $zl) ${load(8)}))`);
  }
  return `
 (func (export "ghash") (param $table i32) (param $state i32) (param $p i32) (param $n i32)
  (local $xh i64) (local $xl i64) (local $zh i64) (local $zl i64) (local $r i64) (local $t i64) (local $i i32)
  (local.set $zh (i64.load offset=0 (local.get $state)))
  (local.set $zl (i64.load offset=8 (local.get $state)))
  (block $done
   (loop $block
    (br_if $done (i32.eqz (local.get $n)))
    ${bswap64('(i64.load offset=0 (local.get $p))')}
    (local.set $xh (i64.xor (local.get $zh) (local.get $t)))
    ${bswap64('(i64.load offset=8 (local.get $p))')}
    (local.set $xl (i64.xor (local.get $zl) (local.get $t)))
${steps.join('\n')}
    (local.set $p (i32.add (local.get $p) (i32.const 16)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br $block)))
  (i64.store offset=0 (local.get $state) (local.get $zh))
  (i64.store offset=8 (local.get $state) (local.get $zl)))`;
}

/** xor(dst, src, blocks): dst ^= src over `blocks` 16-byte blocks. */
const XOR_FUNCTION = `
 (func (export "xor") (param $d i32) (param $s i32) (param $n i32)
  (block $done
   (loop $block
    (br_if $done (i32.eqz (local.get $n)))
    (i64.store offset=0 (local.get $d) (i64.xor (i64.load offset=0 (local.get $d)) (i64.load offset=0 (local.get $s))))
    (i64.store offset=8 (local.get $d) (i64.xor (i64.load offset=8 (local.get $d)) (i64.load offset=8 (local.get $s))))
    (local.set $d (i32.add (local.get $d) (i32.const 16)))
    (local.set $s (i32.add (local.get $s) (i32.const 16)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br $block))))`;

export function aesCtrWat(): string {
  return `(module
 (memory (export "mem") 1)${ctrFunction('ctr128', 10)}${ctrFunction('ctr256', 14)}${ghashFunction()}${XOR_FUNCTION}
)
`;
}

async function main(): Promise<void> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('aes-ctr.wat', aesCtrWat());
  parsed.validate();
  const bytes = Buffer.from(parsed.toBinary({}).buffer);
  parsed.destroy();
  const source =
    `// Generated by scripts/build-aes-wasm.ts (WAT assembled with wabt): do not edit.\n` +
    `/** The AES counter-mode WebAssembly module (src/crypto/aes-wasm.ts), ${bytes.length} bytes. */\n` +
    `export const AES_CTR_WASM_BASE64 =\n  '${bytes.toString('base64')}';\n`;
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUT, 'utf8');
    if (current !== source) {
      console.error(`${OUT} is not what scripts/build-aes-wasm.ts assembles: run it`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(OUT, source);
  console.log(`wrote ${OUT} (${bytes.length} bytes of WebAssembly)`);
}

await main();
