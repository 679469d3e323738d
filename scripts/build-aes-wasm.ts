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
 (func $${name} (export "${name}") (param $rk i32) (param $iv0 i32) (param $iv1 i32) (param $iv2 i32)
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

const H_NAMES = ['$h0', '$h1', '$h2', '$h0r', '$h1r', '$h2r'];

const M = ['0x1111111111111111', '0x2222222222222222', '0x4444444444444444', '0x8888888888888888'];

/** `to` = the bit reversal of local `from` (64 bits): bit swaps within bytes, then a byte swap. */
function rev64(to: string, from: string): string {
  const swap = (k: number, m: string): string =>
    `    (local.set ${to} (i64.or (i64.and (i64.shr_u (local.get ${to}) (i64.const ${k})) (i64.const ${m}))
      (i64.shl (i64.and (local.get ${to}) (i64.const ${m})) (i64.const ${k}))))\n`;
  return (
    `    (local.set ${to} (local.get ${from}))\n` +
    swap(1, '0x5555555555555555') +
    swap(2, '0x3333333333333333') +
    swap(4, '0x0f0f0f0f0f0f0f0f') +
    swap(8, '0x00ff00ff00ff00ff') +
    swap(16, '0x0000ffff0000ffff') +
    `    (local.set ${to} (i64.rotl (local.get ${to}) (i64.const 32)))\n`
  );
}

/**
 * `to` = the low 64 bits of the carry-less product of local `x` and the H half whose four masked
 * parts are locals `${h}_0..3` (h & M[j]): integer multiplies of operands keeping every fourth
 * bit, so that a column's carries (at most 15 ones below bit 60, 16 at bits 60-63 whose carry
 * leaves the word) never reach the next bit of the same class; then each class keeps its bits.
 */
function bmul64(to: string, x: string, h: string, accumulate = false): string {
  let out = '';
  for (let i = 0; i < 4; i++)
    out += `    (local.set $a${i} (i64.and (local.get ${x}) (i64.const ${M[i]})))\n`;
  const terms: string[] = [];
  for (let c = 0; c < 4; c++) {
    // Bit class c of the product: x's class i times h's class (c - i) mod 4.
    const products = [0, 1, 2, 3].map(
      (i) => `(i64.mul (local.get $a${i}) (local.get ${h}_${(c - i + 4) % 4}))`,
    );
    terms.push(
      `(i64.and (i64.xor (i64.xor ${products[0]} ${products[1]}) (i64.xor ${products[2]} ${products[3]})) (i64.const ${M[c]}))`,
    );
  }
  return (
    out +
    `    (local.set ${to} (i64.xor ${accumulate ? `(local.get ${to})` : '(i64.const 0)'} (i64.or (i64.or ${terms[0]} ${terms[1]}) (i64.or ${terms[2]} ${terms[3]}))))\n`
  );
}

/** A byte swap of an i64 expression (in local $t). */
function bswap64(e: string): string {
  return `(local.set $t ${e})
    (local.set $t (i64.or (i64.shl (i64.and (local.get $t) (i64.const 0x00ff00ff00ff00ff)) (i64.const 8))
      (i64.and (i64.shr_u (local.get $t) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff))))
    (local.set $t (i64.or (i64.shl (i64.and (local.get $t) (i64.const 0x0000ffff0000ffff)) (i64.const 16))
      (i64.and (i64.shr_u (local.get $t) (i64.const 16)) (i64.const 0x0000ffff0000ffff))))
    (local.set $t (i64.rotl (local.get $t) (i64.const 32)))`;
}

/** How many blocks one reduction covers (H^1..H^GHASH_POWERS per key). */
export const GHASH_POWERS = 4;

/**
 * ghash(hkey, state, ptr, blocks): GHASH of `blocks` 16-byte blocks at `ptr` into the state at
 * `state` (two i64: the value's high and low halves as big-endian integers), under the hash key
 * at `hkey`: H^1..H^4, each four i64 (its high and low halves, then their bit reversals).
 *
 * No table and no secret-indexed load (constant time), BearSSL's "ctmul64" method: GHASH's
 * bit-reflected multiply is the carry-less product of the block and H read as big-endian
 * integers, 255 bits, shifted left by one, then reduced mod x^128 + x^7 + x^2 + x + 1 in that
 * reflected order. The 128x128 product is Karatsuba's three 64x64 ones; a 64x64 product's low
 * half is bmul64, its high half bmul64 of the bit-reversed operands, reversed back.
 *
 * Up to four blocks share one reduction: (((s ⊕ x1)·H ⊕ x2)·H ⊕ x3)·H ⊕ x4)·H is
 * (s ⊕ x1)·H^4 ⊕ x2·H^3 ⊕ x3·H^2 ⊕ x4·H, and the products, the reversals back and the
 * reduction are linear, so the six partial products are summed over the group and finished once.
 */
function ghashFunction(): string {
  const hLocals = H_NAMES.flatMap((h) => [0, 1, 2, 3].map((j) => `(local ${h}_${j} i64)`)).join(' ');
  const named = [
    '$y0',
    '$y1',
    '$x0',
    '$x1',
    '$x2',
    '$x0r',
    '$x1r',
    '$x2r',
    '$z0',
    '$z1',
    '$z2',
    '$z0h',
    '$z1h',
    '$z2h',
    '$v0',
    '$v1',
    '$v2',
    '$v3',
    '$t',
    '$a0',
    '$a1',
    '$a2',
    '$a3',
    '$hh',
    '$hl',
    '$hhr',
    '$hlr',
  ];
  const split = (h: string, e: string): string =>
    [0, 1, 2, 3].map((j) => `    (local.set ${h}_${j} (i64.and ${e} (i64.const ${M[j]})))\n`).join('');
  const g = (x: string): string => `(local.get ${x})`;
  const x = (a: string, b: string): string => `(i64.xor ${a} ${b})`;
  const shl = (a: string, k: number): string => `(i64.shl ${a} (i64.const ${k}))`;
  const shr = (a: string, k: number): string => `(i64.shr_u ${a} (i64.const ${k}))`;
  const zero = ['$z0', '$z1', '$z2', '$z0h', '$z1h', '$z2h']
    .map((z) => `   (local.set ${z} (i64.const 0))\n`)
    .join('');
  return `
 (func $ghash (export "ghash") (param $hkey i32) (param $state i32) (param $p i32) (param $n i32)
  (local $m i32) (local $hp i32)
  ${named.map((l) => `(local ${l} i64)`).join(' ')}
  ${hLocals}
  (local.set $y1 (i64.load offset=0 (local.get $state)))
  (local.set $y0 (i64.load offset=8 (local.get $state)))
  (block $done
   (loop $group
    (br_if $done (i32.eqz (local.get $n)))
    ;; m = min(n, ${GHASH_POWERS}) blocks, the first times H^m
    (local.set $m (select (i32.const ${GHASH_POWERS}) (local.get $n) (i32.gt_u (local.get $n) (i32.const ${GHASH_POWERS}))))
    (local.set $n (i32.sub (local.get $n) (local.get $m)))
    (local.set $hp (i32.add (local.get $hkey) (i32.shl (i32.sub (local.get $m) (i32.const 1)) (i32.const 5))))
${zero}    ${bswap64('(i64.load offset=0 (local.get $p))')}
    (local.set $x1 (i64.xor (local.get $y1) (local.get $t)))
    ${bswap64('(i64.load offset=8 (local.get $p))')}
    (local.set $x0 (i64.xor (local.get $y0) (local.get $t)))
    (loop $blocks
    (local.set $hh (i64.load offset=0 (local.get $hp)))
    (local.set $hl (i64.load offset=8 (local.get $hp)))
    (local.set $hhr (i64.load offset=16 (local.get $hp)))
    (local.set $hlr (i64.load offset=24 (local.get $hp)))
${split('$h0', g('$hl'))}${split('$h1', g('$hh'))}${split('$h2', x(g('$hl'), g('$hh')))}${split('$h0r', g('$hlr'))}${split('$h1r', g('$hhr'))}${split('$h2r', x(g('$hlr'), g('$hhr')))}    (local.set $x2 (i64.xor (local.get $x0) (local.get $x1)))
${rev64('$x0r', '$x0')}${rev64('$x1r', '$x1')}    (local.set $x2r (i64.xor (local.get $x0r) (local.get $x1r)))
${bmul64('$z0', '$x0', '$h0', true)}${bmul64('$z1', '$x1', '$h1', true)}${bmul64('$z2', '$x2', '$h2', true)}${bmul64('$z0h', '$x0r', '$h0r', true)}${bmul64('$z1h', '$x1r', '$h1r', true)}${bmul64('$z2h', '$x2r', '$h2r', true)}    (local.set $p (i32.add (local.get $p) (i32.const 16)))
    (local.set $hp (i32.sub (local.get $hp) (i32.const 32)))
    (local.set $m (i32.sub (local.get $m) (i32.const 1)))
    (if (local.get $m)
     (then
    ${bswap64('(i64.load offset=0 (local.get $p))')}
    (local.set $x1 (local.get $t))
    ${bswap64('(i64.load offset=8 (local.get $p))')}
    (local.set $x0 (local.get $t))
    (br $blocks))))
    ;; Karatsuba's middle terms, then the high halves back from the reversed products
    (local.set $z2 ${x(g('$z2'), x(g('$z0'), g('$z1')))})
    (local.set $z2h ${x(g('$z2h'), x(g('$z0h'), g('$z1h')))})
${rev64('$t', '$z0h')}    (local.set $z0h ${shr(g('$t'), 1)})
${rev64('$t', '$z1h')}    (local.set $z1h ${shr(g('$t'), 1)})
${rev64('$t', '$z2h')}    (local.set $z2h ${shr(g('$t'), 1)})
    ;; the 256-bit product v3:v2:v1:v0, shifted left by one (GHASH's bit order)
    (local.set $v0 (local.get $z0))
    (local.set $v1 ${x(g('$z0h'), g('$z2'))})
    (local.set $v2 ${x(g('$z1'), g('$z2h'))})
    (local.set $v3 (local.get $z1h))
    (local.set $v3 (i64.or ${shl(g('$v3'), 1)} ${shr(g('$v2'), 63)}))
    (local.set $v2 (i64.or ${shl(g('$v2'), 1)} ${shr(g('$v1'), 63)}))
    (local.set $v1 (i64.or ${shl(g('$v1'), 1)} ${shr(g('$v0'), 63)}))
    (local.set $v0 ${shl(g('$v0'), 1)})
    ;; reduction: v1:v0 (the terms of degree 128 and up) folded into v3:v2, 64 bits at a time
    (local.set $v2 ${x(g('$v2'), x(x(g('$v0'), shr(g('$v0'), 1)), x(shr(g('$v0'), 2), shr(g('$v0'), 7))))})
    (local.set $v1 ${x(g('$v1'), x(x(shl(g('$v0'), 63), shl(g('$v0'), 62)), shl(g('$v0'), 57)))})
    (local.set $v3 ${x(g('$v3'), x(x(g('$v1'), shr(g('$v1'), 1)), x(shr(g('$v1'), 2), shr(g('$v1'), 7))))})
    (local.set $v2 ${x(g('$v2'), x(x(shl(g('$v1'), 63), shl(g('$v1'), 62)), shl(g('$v1'), 57)))})
    (local.set $y0 (local.get $v2))
    (local.set $y1 (local.get $v3))
    (br $group)))
  (i64.store offset=0 (local.get $state) (local.get $y1))
  (i64.store offset=8 (local.get $state) (local.get $y0)))`;
}

/** xor(dst, src, blocks): dst ^= src over `blocks` 16-byte blocks. */
const XOR_FUNCTION = `
 (func $xor (export "xor") (param $d i32) (param $s i32) (param $n i32)
  (block $done
   (loop $block
    (br_if $done (i32.eqz (local.get $n)))
    (i64.store offset=0 (local.get $d) (i64.xor (i64.load offset=0 (local.get $d)) (i64.load offset=0 (local.get $s))))
    (i64.store offset=8 (local.get $d) (i64.xor (i64.load offset=8 (local.get $d)) (i64.load offset=8 (local.get $s))))
    (local.set $d (i32.add (local.get $d) (i32.const 16)))
    (local.set $s (i32.add (local.get $s) (i32.const 16)))
    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
    (br $block))))`;

/**
 * gcm128 / gcm256(rk, hkey, iv0, iv1, iv2, ks, aad, aadBlocks, aadLength, data, length, decrypt):
 * a whole GCM pass in one call (one JS-to-WebAssembly crossing instead of three, and no length
 * block or padding written from JS): the keystream AES(IV ‖ 1..blocks + 1) at `ks`, the `length`
 * bytes at `data` en/decrypted in place, GHASH over the AAD's `aadBlocks` at `aad` (zero-padded,
 * right before `data`), the ciphertext zero-padded and the length block (written at the next
 * block boundary after `data + length`) into the state at STATE (zeroed first). The tag is that
 * state XOR the keystream's first block (the caller reads both).
 */
function gcmFunction(name: string, ctr: string, stateOffset: number): string {
  const be = (e: string): string => bswap(e);
  return `
 (func (export "${name}") (param $rk i32) (param $hkey i32) (param $iv0 i32) (param $iv1 i32)
  (param $iv2 i32) (param $ks i32) (param $aad i32) (param $aadBlocks i32) (param $aadLength i32)
  (param $data i32) (param $length i32) (param $decrypt i32)
  (local $blocks i32) (local $end i32) (local $p i32)
  (local.set $blocks (i32.shr_u (i32.add (local.get $length) (i32.const 15)) (i32.const 4)))
  (local.set $end (i32.add (local.get $data) (i32.shl (local.get $blocks) (i32.const 4))))
  ;; the length block: AAD and payload bit lengths, big-endian 64-bit
  (i32.store offset=0 (local.get $end) ${be('(i32.shr_u (local.get $aadLength) (i32.const 29))')})
  (i32.store offset=4 (local.get $end) ${be('(i32.shl (local.get $aadLength) (i32.const 3))')})
  (i32.store offset=8 (local.get $end) ${be('(i32.shr_u (local.get $length) (i32.const 29))')})
  (i32.store offset=12 (local.get $end) ${be('(i32.shl (local.get $length) (i32.const 3))')})
  (call $${ctr} (local.get $rk) (local.get $iv0) (local.get $iv1) (local.get $iv2) (i32.const 1)
   (i32.add (local.get $blocks) (i32.const 1)) (local.get $ks))
  (i64.store offset=0 (i32.const ${stateOffset}) (i64.const 0))
  (i64.store offset=8 (i32.const ${stateOffset}) (i64.const 0))
  ;; GHASH reads the ciphertext zero-padded: the input when decrypting, the output when encrypting
  (if (i32.eqz (local.get $decrypt))
   (then (call $xor (local.get $data) (i32.add (local.get $ks) (i32.const 16)) (local.get $blocks))))
  (local.set $p (i32.add (local.get $data) (local.get $length)))
  (block $padded
   (loop $pad
    (br_if $padded (i32.ge_u (local.get $p) (local.get $end)))
    (i32.store8 (local.get $p) (i32.const 0))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (br $pad)))
  (call $ghash (local.get $hkey) (i32.const ${stateOffset}) (local.get $aad)
   (i32.add (i32.add (local.get $aadBlocks) (local.get $blocks)) (i32.const 1)))
  (if (local.get $decrypt)
   (then (call $xor (local.get $data) (i32.add (local.get $ks) (i32.const 16)) (local.get $blocks)))))`;
}

/** Where gcm128 / gcm256 keep the GHASH state (STATE_OFFSET in src/crypto/aes-wasm.ts: after the tables). */
export const GHASH_STATE_OFFSET = 8192;

export function aesCtrWat(): string {
  return `(module
 (memory (export "mem") 1)${ctrFunction('ctr128', 10)}${ctrFunction('ctr256', 14)}${ghashFunction()}${XOR_FUNCTION}${gcmFunction('gcm128', 'ctr128', GHASH_STATE_OFFSET)}${gcmFunction('gcm256', 'ctr256', GHASH_STATE_OFFSET)}
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

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
