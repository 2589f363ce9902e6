import { describe, expect, it } from 'vitest';
import { readAhead } from '../../../src/core/read-ahead.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('readAhead', () => {
  it('yields every item in order and runs the source ahead of a slow consumer, never holding more than the limit', async () => {
    let produced = 0;
    let consumed = 0;
    let most = 0;
    async function* source() {
      for (let i = 0; i < 20; i++) {
        await tick();
        produced++;
        most = Math.max(most, produced - consumed);
        yield i;
      }
    }
    const got: number[] = [];
    const ahead: number[] = [];
    for await (const x of readAhead(source(), 4)) {
      // The consumer works (ten turns of the event loop) while the source fills the queue.
      for (let k = 0; k < 10; k++) await tick();
      ahead.push(produced - consumed);
      consumed++;
      got.push(x);
    }
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Items taken out of the queue: at most 4 waiting plus the one the producer holds.
    expect(most).toBeLessThanOrEqual(5);
    expect(Math.max(...ahead)).toBeGreaterThanOrEqual(4);
  });

  it('weighs items by size and still lets one larger than the limit through', async () => {
    async function* source() {
      yield 'a'.repeat(10);
      yield 'b';
    }
    const got: string[] = [];
    for await (const x of readAhead(source(), 3, (s) => s.length)) got.push(x);
    expect(got).toEqual(['a'.repeat(10), 'b']);
  });

  it("delivers what came before a source's error, then throws it", async () => {
    async function* source() {
      yield 1;
      yield 2;
      throw new Error('decoder died');
    }
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const x of readAhead(source(), 8)) got.push(x);
      })(),
    ).rejects.toThrow('decoder died');
    expect(got).toEqual([1, 2]);
  });

  it('a consumer that stops early stops the source and runs its cleanup', async () => {
    let closed = false;
    let produced = 0;
    async function* source() {
      try {
        for (let i = 0; ; i++) {
          await tick();
          produced++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    for await (const x of readAhead(source(), 2)) if (x === 3) break;
    expect(closed).toBe(true);
    const after = produced;
    for (let k = 0; k < 10; k++) await tick();
    expect(produced).toBe(after);
  });
});
