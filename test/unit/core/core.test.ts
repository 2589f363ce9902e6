import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, Hasher64, sha256Hex } from '../../../src/core/hash.js';
import { quatFromAxisAngle, quatFromEulerDeg, rotate, twistAngle } from '../../../src/core/math.js';
import { deriveSeed, Rng } from '../../../src/core/rng.js';
import { closest } from '../../../src/core/registry.js';

describe('sha256Hex', () => {
  it('matches node:crypto on assorted inputs (independent implementation)', () => {
    for (const s of ['', 'abc', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(64), 'é∑😀'.repeat(40), JSON.stringify({ x: [1, 2, 3] })]) {
      expect(sha256Hex(s)).toBe(createHash('sha256').update(s, 'utf8').digest('hex'));
    }
  });
  it('canonicalJson ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
    expect(canonicalJson({ b: 1, a: [3, 2] })).toBe('{"a":[3,2],"b":1}');
  });
});

describe('Hasher64', () => {
  it('distinguishes -0 from 0 and tiny changes', () => {
    const h = (xs: number[]) => new Hasher64().numbers(xs).hex();
    expect(h([0, 1, 2])).toBe(h([0, 1, 2]));
    expect(h([0, 1, 2])).not.toBe(h([-0, 1, 2]));
    expect(h([1])).not.toBe(h([1 + Number.EPSILON]));
    expect(h([1, 2])).not.toBe(h([2, 1]));
  });
});

describe('Rng', () => {
  it('is reproducible and seed-sensitive', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xa);
  });
  it('has sane uniform and normal moments', () => {
    const r = new Rng(7);
    const n = 200_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) throw new Error(`out of range: ${u}`);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(sn2 / n).toBeCloseTo(1, 1);
  });
  it('int covers its range uniformly', () => {
    const r = new Rng(1);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 50_000; i++) counts[r.int(5)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(9_500);
  });
  it('derived seeds differ per label and are stable', () => {
    expect(deriveSeed(0, 'episode', 1)).toBe(deriveSeed(0, 'episode', 1));
    const seen = new Set(Array.from({ length: 1000 }, (_, k) => deriveSeed(0, 'episode', k)));
    expect(seen.size).toBe(1000);
    expect(deriveSeed(0, 'episode', 1)).not.toBe(deriveSeed(1, 'episode', 1));
    expect(deriveSeed(5, 'policy')).not.toBe(deriveSeed(5, 'episode'));
  });
});

describe('math', () => {
  it('euler yaw 90 rotates x to y; twist recovers the angle', () => {
    const q = quatFromEulerDeg([0, 0, 90]);
    const v = rotate(q, [1, 0, 0]);
    expect(v[0]).toBeCloseTo(0, 12);
    expect(v[1]).toBeCloseTo(1, 12);
    expect(twistAngle(quatFromAxisAngle([0, 1, 0], 0.3), [0, 1, 0])).toBeCloseTo(0.3, 12);
    expect(twistAngle(quatFromAxisAngle([0, 0, 1], -2.5), [0, 0, 1])).toBeCloseTo(-2.5, 12);
  });
  it('closest suggests near names', () => {
    expect(closest('PushCub-v1', ['PushCube-v1', 'Reach-v1', 'CartPole-v1'])[0]).toBe('PushCube-v1');
  });
});
