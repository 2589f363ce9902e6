import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import type { Action } from '../../../src/core/spaces.js';
import { episodeSeed, rollout } from '../../../src/episode/rollout.js';
import { makePolicy, OuNoisePolicy, RandomPolicy, ReplayPolicy } from '../../../src/policy/index.js';
import { createEnv } from '../../../src/sim/env.js';
import { hashSnapshot } from '../../../src/sim/hash.js';
import type { BoxSpace } from '../../../src/core/spaces.js';

const space: BoxSpace = { type: 'box', dtype: 'float32', shape: [2], low: [-1, 0], high: [1, 2], names: ['a', 'b'] };

function series(p: { reset(s: number): void; act(...a: never[]): Action }, n: number): Float32Array[] {
  p.reset(3);
  return Array.from({ length: n }, () => (p.act as () => Action)() as Float32Array);
}

function lag1(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    den += (xs[i]! - m) ** 2;
    if (i > 0) num += (xs[i]! - m) * (xs[i - 1]! - m);
  }
  return num / den;
}

describe('random and noise policies', () => {
  it('random actions stay in bounds, are reproducible and uncorrelated', () => {
    const a = series(new RandomPolicy(space), 2000);
    expect(series(new RandomPolicy(space), 2000)).toEqual(a);
    for (const x of a) {
      expect(x[0]! >= -1 && x[0]! <= 1 && x[1]! >= 0 && x[1]! <= 2).toBe(true);
    }
    expect(Math.abs(lag1(a.map((x) => x[0]!)))).toBeLessThan(0.1);
  });

  it('Ornstein-Uhlenbeck actions are smooth (high lag-1 autocorrelation) and cover the range', () => {
    const a = series(new OuNoisePolicy(space, { theta: 1, sigma: 1.2, dt: 0.05 }), 4000);
    for (const x of a) expect(x[1]! >= 0 && x[1]! <= 2).toBe(true);
    expect(lag1(a.map((x) => x[0]!))).toBeGreaterThan(0.9);
    const xs = a.map((x) => x[0]!);
    expect(Math.min(...xs)).toBeLessThan(-0.8);
    expect(Math.max(...xs)).toBeGreaterThan(0.8);
  });
});

describe('expert and replay', () => {
  it('replaying recorded expert actions reproduces the episode exactly', async () => {
    const env = await createEnv(loadEnv('PushCube-v1'));
    const seed = episodeSeed(0, 4);
    const actions: Action[] = [];
    const hashes: string[] = [];
    for (const s of rollout(env, makePolicy('expert', env), seed)) {
      actions.push(s.action);
      hashes.push(hashSnapshot(env.snapshot()));
    }
    const replayed: string[] = [];
    for (const _ of rollout(env, new ReplayPolicy(actions), seed)) replayed.push(hashSnapshot(env.snapshot()));
    expect(replayed).toEqual(hashes);
    const short = new ReplayPolicy(actions.slice(0, 2));
    short.reset();
    short.act();
    short.act();
    expect(() => short.act()).toThrowError(/recording has 2 actions/);
    env.close();
  });

  it('expert noise perturbs actions within bounds and is seeded', async () => {
    const env = await createEnv(loadEnv('StackCube-v1'));
    const run = (noise: number, seed: number) => {
      const out: number[] = [];
      for (const s of rollout(env, makePolicy('expert', env, { noise, epsilon: 0.1 }), seed)) out.push(...(s.action as Float32Array));
      return out;
    };
    const clean = run(0, 1);
    const noisy = run(0.2, 1);
    expect(noisy).not.toEqual(clean);
    expect(run(0.2, 1)).toEqual(noisy);
    for (let i = 0; i < noisy.length; i++) {
      const lo = i % 4 === 3 ? 0 : -1;
      expect(noisy[i]! >= lo && noisy[i]! <= 1).toBe(true);
    }
    env.close();
  });

  it('asking for the expert of an environment without one is a clear error', async () => {
    const env = await createEnv(loadEnv('FallingObjects-v1'));
    expect(() => makePolicy('expert', env)).toThrowError(/declares no expert/);
    env.close();
  });
});
