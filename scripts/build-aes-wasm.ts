/**
 * Generates src/crypto/aes-ctr-wasm.generated.ts: the WebAssembly AES-GCM core
 * (src/crypto/aes-wasm.ts) as WAT written out here, assembled by wabt (a devDependency: nothing is
 * assembled or downloaded at run time), committed as base64.
 *
 * Run: npx tsx scripts/build-aes-wasm.ts [--check] (--check: exit 1 if the committed module
 * differs from what this script assembles; test/crypto/aes-wasm.test.ts runs it).
 *
 * The module: one memory (exported "mem") holding, from byte 0, the vector-permute tables of
 * src/crypto/aes-vperm.ts (a data segment of the module). Exports ctr128 and ctr256:
 * (rk, iv0, iv1, iv2, counter, blocks, out) writes AES(IV ‖ counter + k) for k < blocks as
 * consecutive 16-byte blocks at `out`, with SIMD byte shuffles (WebAssembly's 128-bit SIMD, in
 * every Node.js this package supports); `rk` points at the round keys in the shuffles' form
 * (vpermRoundKeys: 11 or 15 blocks), iv0..iv2 are the IV's first three words as little-endian
 * loads, `counter` is the big-endian counter value (swapped per block inside).
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import {
  VPERM_INV,
  VPERM_IPT,
  VPERM_MC_BACKWARD,
  VPERM_MC_FORWARD,
  VPERM_SB1,
  VPERM_SB2,
  VPERM_SBO,
  VPERM_SR,
} from '../src/crypto/aes-vperm.js';
import { STATE_OFFSET } from '../src/crypto/aes-wasm.js';

const OUT = fileURLToPath(new URL('../src/crypto/aes-ctr-wasm.generated.ts', import.meta.url));

/**
 * The vector-permute tables (src/crypto/aes-vperm.ts) as the module's data from byte 0: the ones
 * every round uses first (loaded into locals once per call), then the per-round rotations, indexed
 * by round number mod 4.
 */
const TABLES: Array<[string, Uint8Array]> = [
  ['inv1', VPERM_INV[0]],
  ['inv2', VPERM_INV[1]],
  ['ipt1', VPERM_IPT[0]],
  ['ipt2', VPERM_IPT[1]],
  ['sb1u', VPERM_SB1[0]],
  ['sb1t', VPERM_SB1[1]],
  ['sb2u', VPERM_SB2[0]],
  ['sb2t', VPERM_SB2[1]],
  ['sbou', VPERM_SBO[0]],
  ['sbot', VPERM_SBO[1]],
  ['nibble', new Uint8Array(16).fill(0x0f)],
];
const TABLE_AT = new Map(TABLES.map(([name], i) => [name, 16 * i]));
const MC_FORWARD_AT = 16 * TABLES.length;
const MC_BACKWARD_AT = MC_FORWARD_AT + 64;
const SR_AT = MC_BACKWARD_AT + 64;
/** Bytes of tables at the start of the module's memory (below STATE_OFFSET). */
const VPERM_TABLE_BYTES = SR_AT + 64;

function dataSegment(): string {
  const bytes = [...TABLES.map(([, t]) => t), ...VPERM_MC_FORWARD, ...VPERM_MC_BACKWARD, ...VPERM_SR].flatMap(
    (t) => [...t],
  );
  if (bytes.length !== VPERM_TABLE_BYTES || VPERM_TABLE_BYTES > STATE_OFFSET) throw new Error('table layout');
  return `\n (data (i32.const 0) "${bytes.map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('')}")`;
}

const get = (name: string): string => `(local.get $${name})`;
const swizzle = (table: string, index: string): string => `(i8x16.swizzle ${table} ${index})`;
const xor = (...e: string[]): string => e.reduce((a, b) => `(v128.xor ${a} ${b})`);

/**
 * The S-box's inversion for lane `s` (its state in local $s): leaves the two nibble inverses the
 * output tables take in $s_5 and $s_6 (the paper's io and jo).
 */
function invert(s: string): string {
  return `    (local.set $${s}_h (i8x16.shr_u ${get(s)} (i32.const 4)))
    (local.set $${s}_l (v128.and ${get(s)} ${get('nibble')}))
    (local.set $${s}_2 ${swizzle(get('inv2'), get(`${s}_l`))})
    (local.set $${s}_l (v128.xor ${get(`${s}_l`)} ${get(`${s}_h`)}))
    (local.set $${s}_5 ${xor(get(`${s}_l`), swizzle(get('inv1'), xor(get(`${s}_2`), swizzle(get('inv1'), get(`${s}_h`)))))})
    (local.set $${s}_6 ${xor(get(`${s}_h`), swizzle(get('inv1'), xor(get(`${s}_2`), swizzle(get('inv1'), get(`${s}_l`)))))})
`;
}

/** A middle round of lane `s` under the round key at $k, MixColumns' rotations in $mcf / $mcb. */
function middleRound(s: string): string {
  return `${invert(s)}    (local.set $${s}_7 ${xor(swizzle(get('sb1t'), get(`${s}_6`)), swizzle(get('sb1u'), get(`${s}_5`)), '(v128.load (local.get $k))')})
    (local.set $${s}_8 ${xor(swizzle(get('sb2t'), get(`${s}_6`)), swizzle(get('sb2u'), get(`${s}_5`)), swizzle(get(`${s}_7`), get('mcf')))})
    (local.set $${s} ${xor(swizzle(get(`${s}_8`), get('mcf')), swizzle(get(`${s}_7`), get('mcb')), get(`${s}_8`))})
`;
}

/** The last round of lane `s` (key at $k), ShiftRows put right for `rounds` rounds. */
function lastRound(s: string, rounds: number): string {
  const sbo = xor(
    swizzle(`(v128.load offset=${TABLE_AT.get('sbou')} (i32.const 0))`, get(`${s}_5`)),
    swizzle(`(v128.load offset=${TABLE_AT.get('sbot')} (i32.const 0))`, get(`${s}_6`)),
    '(v128.load (local.get $k))',
  );
  return `${invert(s)}    (local.set $${s} ${swizzle(sbo, `(v128.load offset=${SR_AT + 16 * (rounds % 4)} (i32.const 0))`)})
`;
}

/** The counter block IV ‖ counter + `plus` (big-endian) through round 0 (the key at $rk). */
function firstRound(s: string, plus: number): string {
  const block = `(i32x4.replace_lane 3 (local.get $iv) ${bswap(`(i32.add (local.get $ctr) (i32.const ${plus}))`)})`;
  return `    (local.set $${s} ${block})
    (local.set $${s} ${xor(
      swizzle(
        `(v128.load offset=${TABLE_AT.get('ipt1')} (i32.const 0))`,
        `(v128.and ${get(s)} ${get('nibble')})`,
      ),
      swizzle(
        `(v128.load offset=${TABLE_AT.get('ipt2')} (i32.const 0))`,
        `(i8x16.shr_u ${get(s)} (i32.const 4))`,
      ),
      '(v128.load (local.get $rk))',
    )})
`;
}

/** A byte swap of an i32 expression. */
function bswap(e: string): string {
  return (
    `(i32.or (i32.and (i32.rotl ${e} (i32.const 8)) (i32.const 0x00ff00ff))` +
    ` (i32.and (i32.rotr ${e} (i32.const 8)) (i32.const 0xff00ff00)))`
  );
}

/**
 * Two counter blocks at a time (two independent chains of shuffles keep the core busy: one block
 * is latency-bound); an odd count's last pair computes one block more than it stores.
 */
function ctrFunction(name: string, rounds: number): string {
  const lanes = ['a', 'b'];
  const laneLocals = lanes
    .flatMap((s) => [s, `${s}_h`, `${s}_l`, `${s}_2`, `${s}_5`, `${s}_6`, `${s}_7`, `${s}_8`])
    .map((l) => `(local $${l} v128)`)
    .join(' ');
  const shared = ['inv1', 'inv2', 'sb1u', 'sb1t', 'sb2u', 'sb2t', 'nibble'];
  return `
 (func $${name} (export "${name}") (param $rk i32) (param $iv0 i32) (param $iv1 i32) (param $iv2 i32)
  (param $ctr i32) (param $n i32) (param $out i32)
  (local $iv v128) (local $mcf v128) (local $mcb v128) ${shared.map((l) => `(local $${l} v128)`).join(' ')}
  ${laneLocals} (local $k i32) (local $r i32)
${shared.map((l) => `  (local.set $${l} (v128.load offset=${TABLE_AT.get(l)} (i32.const 0)))\n`).join('')}  (local.set $iv (i32x4.replace_lane 2 (i32x4.replace_lane 1 (i32x4.splat (local.get $iv0)) (local.get $iv1)) (local.get $iv2)))
  (block $done
   (loop $pair
    (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
${firstRound('a', 0)}${firstRound('b', 1)}    (local.set $k (i32.add (local.get $rk) (i32.const 16)))
    (local.set $r (i32.const 1))
    (loop $round
    (local.set $mcf (v128.load offset=${MC_FORWARD_AT} (i32.shl (i32.and (local.get $r) (i32.const 3)) (i32.const 4))))
    (local.set $mcb (v128.load offset=${MC_BACKWARD_AT} (i32.shl (i32.and (local.get $r) (i32.const 3)) (i32.const 4))))
${middleRound('a')}${middleRound('b')}    (local.set $k (i32.add (local.get $k) (i32.const 16)))
    (local.set $r (i32.add (local.get $r) (i32.const 1)))
    (br_if $round (i32.lt_u (local.get $r) (i32.const ${rounds}))))
${lastRound('a', rounds)}${lastRound('b', rounds)}    (v128.store (local.get $out) (local.get $a))
    (if (i32.gt_s (local.get $n) (i32.const 1)) (then (v128.store offset=16 (local.get $out) (local.get $b))))
    (local.set $out (i32.add (local.get $out) (i32.const 32)))
    (local.set $ctr (i32.add (local.get $ctr) (i32.const 2)))
    (local.set $n (i32.sub (local.get $n) (i32.const 2)))
    (br $pair))))`;
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

export function aesCtrWat(): string {
  return `(module
 (memory (export "mem") 1)${dataSegment()}${ctrFunction('ctr128', 10)}${ctrFunction('ctr256', 14)}${ghashFunction()}${XOR_FUNCTION}${gcmFunction('gcm128', 'ctr128', STATE_OFFSET)}${gcmFunction('gcm256', 'ctr256', STATE_OFFSET)}
)
`;
}

async function main(): Promise<void> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('aes-ctr.wat', aesCtrWat(), { simd: true });
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
