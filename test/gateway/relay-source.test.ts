import { describe, it, expect } from 'vitest';
import { RelaySource } from '../../src/gateway/playback.js';

async function* numbers(n: number, log: string[]): AsyncGenerator<number> {
  try {
    for (let i = 0; i < n; i++) yield i;
  } finally {
    log.push('source closed');
  }
}

describe('RelaySource', () => {
  it('a second view continues where the first stopped, and closing a view keeps the source open', async () => {
    const log: string[] = [];
    const relay = new RelaySource(numbers(6, log));
    const first: number[] = [];
    for await (const n of relay.view()) {
      first.push(n);
      if (n === 2) break; // what a pump does when its session dies
    }
    expect(log).toEqual([]);
    const second: number[] = [];
    for await (const n of relay.view()) second.push(n);
    expect(first).toEqual([0, 1, 2]);
    expect(second).toEqual([3, 4, 5]);
    expect(relay.ended).toBe(true);
    expect(log).toEqual(['source closed']);
  });

  it('close() ends the source and every view', async () => {
    const log: string[] = [];
    const relay = new RelaySource(numbers(100, log));
    const it1 = relay.view()[Symbol.asyncIterator]();
    expect(await it1.next()).toEqual({ done: false, value: 0 });
    await relay.close();
    expect(log).toEqual(['source closed']);
    expect((await it1.next()).done).toBe(true);
    expect((await relay.view()[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  it('a source error reaches the consumer and ends the relay', async () => {
    async function* failing(): AsyncGenerator<number> {
      yield 1;
      throw new Error('boom');
    }
    const relay = new RelaySource(failing());
    const it1 = relay.view()[Symbol.asyncIterator]();
    await it1.next();
    await expect(it1.next()).rejects.toThrow('boom');
    expect(relay.ended).toBe(true);
  });
});

describe('RelaySource pushback', () => {
  it('a value that arrives after its view detached goes to the next view', async () => {
    let release: (() => void) | undefined;
    async function* slow(): AsyncGenerator<number> {
      yield 0;
      await new Promise<void>((r) => (release = r));
      yield 1;
      yield 2;
    }
    const relay = new RelaySource(slow());
    const a = relay.view()[Symbol.asyncIterator]();
    expect(await a.next()).toEqual({ done: false, value: 0 });
    const pending = a.next(); // waits on the source
    await a.return?.(); // the session died: the pump drops `pending`
    release?.();
    await pending;
    const rest: number[] = [];
    for await (const n of relay.view()) rest.push(n);
    expect(rest).toEqual([1, 2]);
  });

  it('restore() puts values back in front, in order, and the source is not ended until they are', async () => {
    const log: string[] = [];
    const relay = new RelaySource(numbers(5, log));
    const first: number[] = [];
    for await (const n of relay.view()) {
      first.push(n);
      if (n === 4) break;
    }
    expect(first).toEqual([0, 1, 2, 3, 4]);
    // A session had 3 and 4 queued and never sent them: they come back, after a while.
    let give: (values: number[]) => void = () => undefined;
    relay.restore(new Promise<number[]>((resolve) => (give = resolve)));
    const second = (async () => {
      const got: number[] = [];
      for await (const n of relay.view()) got.push(n);
      return got;
    })();
    await new Promise((r) => setImmediate(r));
    expect(relay.ended).toBe(false);
    give([3, 4]);
    expect(await second).toEqual([3, 4]);
    expect(relay.ended).toBe(true);
  });

  it('discardHeld() drops what is held back and what a restore under way brings back, and says how many', async () => {
    const counts: number[] = [];
    const relay = new RelaySource(numbers(10, []), (n) => counts.push(n));
    const it1 = relay.view()[Symbol.asyncIterator]();
    expect(await it1.next()).toEqual({ done: false, value: 0 });
    relay.restore(Promise.resolve([7, 8]));
    let give: (values: number[]) => void = () => undefined;
    await new Promise((r) => setImmediate(r));
    relay.restore(new Promise<number[]>((resolve) => (give = resolve)));
    relay.discardHeld(); // a cut: 7 and 8 are held, 5 and 6 still on their way back
    expect(counts).toEqual([2]);
    give([5, 6]);
    // The source goes on where it was; nothing restored before the cut comes out.
    expect(await it1.next()).toEqual({ done: false, value: 1 });
    expect(counts).toEqual([2, 2]);
    // A restore begun after the cut is kept.
    relay.restore(Promise.resolve([9]));
    expect(await it1.next()).toEqual({ done: false, value: 9 });
  });

  it('close() counts what it drops: held back, and restored after it', async () => {
    const counts: number[] = [];
    const relay = new RelaySource(numbers(10, []), (n) => counts.push(n));
    const it1 = relay.view()[Symbol.asyncIterator]();
    await it1.next();
    relay.restore(Promise.resolve([4, 5, 6]));
    await new Promise((r) => setImmediate(r));
    let give: (values: number[]) => void = () => undefined;
    relay.restore(new Promise<number[]>((resolve) => (give = resolve)));
    await relay.close();
    expect(counts).toEqual([3]);
    give([7]);
    await new Promise((r) => setImmediate(r));
    expect(counts).toEqual([3, 1]);
    expect((await it1.next()).done).toBe(true);
  });
});
