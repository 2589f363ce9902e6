/**
 * Seeded randomness. Every random draw in trajforge goes through an `Rng` so that
 * (config, seed) fully determines an episode. xoshiro128** for the stream, splitmix32 for
 * seeding and for deriving independent child seeds (episode k of a run, the policy's stream, ...).
 */
function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/** A 32-bit seed derived from a parent seed and a list of integer or string labels. */
export function deriveSeed(parent: number, ...labels: (number | string)[]): number {
  let state = parent >>> 0;
  let out: number;
  [out, state] = splitmix32(state);
  for (const label of labels) {
    const codes = typeof label === 'number' ? [label >>> 0, Math.floor(label / 2 ** 32) >>> 0] : [...label].map((c) => c.codePointAt(0) ?? 0);
    for (const code of codes) {
      [out, state] = splitmix32((state ^ out ^ code) >>> 0);
    }
    [out, state] = splitmix32((state ^ 0x5bd1e995) >>> 0);
  }
  return out >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    let state = seed >>> 0;
    let v: number;
    [v, state] = splitmix32(state);
    this.s0 = v;
    [v, state] = splitmix32(state);
    this.s1 = v;
    [v, state] = splitmix32(state);
    this.s2 = v;
    [v, state] = splitmix32(state);
    this.s3 = v | 1; // never all-zero
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [low, high] (both inclusive). */
  intBetween(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('choice from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u: number, v: number, s: number;
    do {
      u = this.next() * 2 - 1;
      v = this.next() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    return u * m;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
