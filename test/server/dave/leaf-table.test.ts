import { describe, it, expect } from 'vitest';
import { LeafTable } from '../../../src/server/dave/leaf-table.js';

describe('LeafTable (dave.md §7.9)', () => {
  it('adds at the leftmost blank leaf, else appends', () => {
    const t = new LeafTable();
    expect([t.add('a', undefined), t.add('b', undefined), t.add('c', undefined)]).toEqual([0, 1, 2]);
    expect(t.remove(0)).toBe(true);
    expect(t.width).toBe(3);
    expect(t.indexOf('a')).toBeUndefined();
    expect(t.add('d', undefined)).toBe(0);
    expect(t.userIds()).toEqual(['d', 'b', 'c']);
  });

  it('truncates trailing blank leaves on remove', () => {
    const t = new LeafTable();
    for (const u of ['a', 'b', 'c', 'd']) t.add(u, undefined);
    t.remove(2);
    expect(t.width).toBe(4);
    t.remove(3);
    expect(t.width).toBe(2); // leaves 2 and 3 both gone
    expect(t.add('e', undefined)).toBe(2);
    expect(t.size).toBe(3);
  });

  it('refuses to remove a blank or missing leaf and keeps signature keys', () => {
    const t = new LeafTable();
    const key = Uint8Array.of(4, 1, 2);
    t.add('a', key);
    expect(t.remove(5)).toBe(false);
    expect(t.at(0)?.signatureKey).toEqual(key);
    expect(t.remove(0)).toBe(true);
    expect(t.remove(0)).toBe(false);
    expect(t.width).toBe(0);
  });
});
