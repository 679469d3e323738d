import { describe, expect, it } from 'vitest';
import { gatewayKey, twoMemberGroup } from '../../../bench/dave-pair.js';

/** Every ArrayBuffer reachable from `root` (own properties, Maps, Sets, arrays), with the bytes viewed in it. */
function reachableBuffers(root: unknown): Map<ArrayBufferLike, number> {
  const seen = new Set<unknown>();
  const buffers = new Map<ArrayBufferLike, number>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      buffers.set(v.buffer, (buffers.get(v.buffer) ?? 0) + v.byteLength);
    } else if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      for (const x of v) stack.push(x);
    } else if (!(v instanceof Promise)) {
      for (const k of Reflect.ownKeys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d !== undefined && 'value' in d) stack.push(d.value);
      }
    }
  }
  return buffers;
}

/** Every object reachable from `root` (as reachableBuffers walks it) for which `pick` holds. */
function reachableObjects(root: unknown, pick: (v: object) => boolean): Set<object> {
  const seen = new Set<unknown>();
  const found = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v) || ArrayBuffer.isView(v)) continue;
    seen.add(v);
    if (pick(v)) found.add(v);
    if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else if (!(v instanceof Promise))
      for (const k of Reflect.ownKeys(v)) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d !== undefined && 'value' in d) stack.push(d.value);
      }
  }
  return found;
}

describe('bytes a two-member DAVE session keeps', () => {
  it('its leaves share one frozen capabilities object, and no confirmation key stays after the epoch began', async () => {
    const { committer, joiner } = await twoMemberGroup(2, gatewayKey());
    for (const session of [joiner, committer]) {
      const capabilities = reachableObjects(session, (v) => 'cipherSuites' in v && 'credentials' in v);
      expect(capabilities.size).toBe(1);
      for (const c of capabilities) expect(Object.isFrozen(c)).toBe(true);
      expect(reachableObjects(session, (v) => Object.hasOwn(v, 'confirmationKey')).size).toBe(0);
    }
  });

  it('its group state pins no shared 8 KiB pool slab, only buffers about the size of what it keeps', async () => {
    const { committer, joiner } = await twoMemberGroup(1, gatewayKey());
    expect(joiner.established && committer.established).toBe(true);

    for (const session of [joiner, committer]) {
      const buffers = reachableBuffers(session);
      let held = 0;
      let viewed = 0;
      for (const [buffer, bytes] of buffers) {
        // Buffer.poolSize (8 KiB) slabs are shared by unrelated allocations; one view keeps all of it
        expect(buffer.byteLength).toBeLessThan(Buffer.poolSize);
        held += buffer.byteLength;
        viewed += bytes;
      }
      expect(viewed).toBeGreaterThan(500); // keys, secrets and the two leaves are there
      expect(held).toBeLessThan(2 * viewed);
    }
  });
});
