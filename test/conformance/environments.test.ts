import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_ENV_DIR, loadEnv, readRawDocument } from '../../src/config/load.js';
import { envJsonSchema } from '../../src/config/parse.js';
import { TrajforgeError } from '../../src/core/errors.js';
import { boxContains, sampleSpace } from '../../src/core/spaces.js';
import { Rng } from '../../src/core/rng.js';
import { episodeSeed, rollout } from '../../src/episode/rollout.js';
import { makePolicy } from '../../src/policy/index.js';
import { createEnv, type PhysicsEnv } from '../../src/sim/env.js';
import { hashSnapshot } from '../../src/sim/hash.js';

/** Gymnasium-style conformance: runs over every file in environments/. */
const FILES = readdirSync(BUILTIN_ENV_DIR).filter((f) => /\.(ya?ml|json)$/.test(f));

function hashes(env: PhysicsEnv, seed: number, steps: number): string[] {
  const out: string[] = [];
  const rng = new Rng(seed);
  env.reset({ seed });
  out.push(hashSnapshot(env.snapshot()));
  for (let t = 0; t < steps; t++) {
    const r = env.step(sampleSpace(env.actionSpace, rng));
    out.push(hashSnapshot(env.snapshot()) + Array.from(r.obs).join(',') + r.reward);
    if (r.terminated || r.truncated) break;
  }
  return out;
}

it('ships at least five environments', () => {
  expect(FILES.length).toBeGreaterThanOrEqual(5);
});

describe.each(FILES)('%s', (file) => {
  const path = join(BUILTIN_ENV_DIR, file);
  let env: PhysicsEnv;
  beforeAll(async () => {
    env = await createEnv(loadEnv(path));
  });
  afterAll(() => env.close());

  it('file name matches its id (name.vN.yaml <-> Name-vN)', () => {
    const id = env.spec.id;
    const kebab = id.replace(/-v(\d+)$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
    expect(file.replace(/\.(ya?ml|json)$/, '')).toBe(`${kebab}.v${id.match(/-v(\d+)$/)![1]}`);
  });

  it('validates against the exported JSON Schema (ajv, an independent validator)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(envJsonSchema());
    const ok = validate(readRawDocument(path).data);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('refuses step() before reset()', async () => {
    const fresh = await createEnv(loadEnv(path));
    expect(() => fresh.step(sampleSpace(fresh.actionSpace, new Rng(0)))).toThrowError(TrajforgeError);
    fresh.close();
  });

  it('observations are finite, inside the space, and named', () => {
    const { obs } = env.reset({ seed: 3 });
    expect(obs.length).toBe(env.observationSpace.shape[0]);
    expect(env.observationSpace.names.length).toBe(obs.length);
    expect(new Set(env.observationSpace.names).size).toBe(obs.length);
    const rng = new Rng(1);
    for (let t = 0; t < 60; t++) {
      const r = env.step(sampleSpace(env.actionSpace, rng));
      expect(r.obs.every(Number.isFinite)).toBe(true);
      expect(boxContains(env.observationSpace, r.obs)).toBe(true);
      expect(Number.isFinite(r.reward)).toBe(true);
      expect(typeof r.info.success).toBe('boolean');
      if (r.terminated || r.truncated) {
        expect(r.terminated && r.truncated).toBe(false);
        break;
      }
    }
  });

  it('same seed -> identical rollout, snapshot hash by snapshot hash; another seed differs', () => {
    const a = hashes(env, 11, 40);
    const b = hashes(env, 11, 40);
    expect(b).toEqual(a);
    expect(hashes(env, 12, 40)).not.toEqual(a);
  });

  it('a reset does not depend on the previous episode', async () => {
    const fresh = await createEnv(loadEnv(path));
    const direct = hashes(fresh, 5, 10);
    fresh.close();
    hashes(env, 99, 30); // dirty the world first
    expect(hashes(env, 5, 10)).toEqual(direct);
  });

  it('the time limit truncates (and never also terminates)', () => {
    env.reset({ seed: 1 });
    const policy = makePolicy(env.spec.hasExpert ? 'expert' : 'random', env);
    let last;
    for (const s of rollout(env, policy, episodeSeed(1, 0))) last = s;
    expect(last!.terminated || last!.truncated).toBe(true);
    if (last!.truncated) expect(last!.info.step).toBe(env.spec.timeLimit);
    expect(last!.info.step).toBeLessThanOrEqual(env.spec.timeLimit);
  });

  it('snapshots list every visible body with a unique id, and every camera', () => {
    env.reset({ seed: 2 });
    const s = env.snapshot();
    const ids = s.primitives.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of s.primitives) expect(env.spec.bodyNames[p.id - 1]).toBe(p.name);
    expect(s.cameras.map((c) => c.name)).toEqual(env.config.cameras.map((c) => c.name));
    for (const c of s.cameras) expect(Math.hypot(...c.quaternion)).toBeCloseTo(1, 9);
    // Plain data: survives a JSON round trip (no engine objects, no functions).
    expect(JSON.stringify(JSON.parse(JSON.stringify(s)))).toBe(JSON.stringify(s));
    expect(Object.getPrototypeOf(s.primitives[0])).toBe(Object.prototype);
  });
});
