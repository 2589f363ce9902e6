import { describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { loadEnv } from '../../../src/config/load.js';
import { createEnv } from '../../../src/sim/env.js';
import { baseDoc, envFrom } from '../../helpers/env.js';

describe('PhysicsEnv actions', () => {
  it('kinematic velocity moves the body by velocity x time', async () => {
    const env = await envFrom(baseDoc());
    env.reset({ seed: 0 });
    for (let t = 0; t < 20; t++) env.step([1, 0]);
    // 0.5 m/s for 20 steps of 0.05 s = 0.5 m, from x = 0.3
    expect(env.obs[3]).toBeCloseTo(0.8, 4);
    env.close();
  });

  it('a force accelerates a free body as F = m a', async () => {
    const doc = baseDoc();
    (doc.world as unknown) = { gravity: [0, 0, 0], timestep: 0.01, substeps: 5 };
    (doc.bodies as Record<string, unknown>[])[1]!.friction = 0;
    const env = await envFrom(doc);
    env.reset({ seed: 0 });
    for (let t = 0; t < 10; t++) env.step([0, 1]);
    // 5 N on 1 kg for 0.5 s from rest: y = a t^2 / 2 = 0.625 m (semi-implicit Euler: within 2%)
    expect(env.obs[1]).toBeGreaterThan(0.6);
    expect(env.obs[1]).toBeLessThan(0.66);
    env.close();
  });

  it('clips out-of-bounds actions and reports the dimensions', async () => {
    const env = await envFrom(baseDoc());
    env.reset({ seed: 0 });
    const r = env.step([3, -0.5]);
    expect(r.info.clipped).toBe(true);
    expect(r.info.clippedDims).toEqual([0]);
    expect(Array.from(env.action)).toEqual([1, -0.5]);
    expect(env.step([0.2, 0.1]).info.clipped).toBe(false);
    env.close();
  });

  it('NaN or wrongly sized actions are errors', async () => {
    const env = await envFrom(baseDoc());
    env.reset({ seed: 0 });
    expect(() => env.step([Number.NaN, 0])).toThrowError(/action\[0\] \(vx\) is NaN/);
    expect(() => env.step([0])).toThrowError(/must have 2 values/);
    try {
      env.step([0, Number.NaN]);
    } catch (e) {
      expect((e as TrajforgeError).code).toBe('E_ACTION_INVALID');
    }
    env.close();
  });

  it('discrete actions map to named actuator vectors', async () => {
    const doc = baseDoc();
    (doc.actions as Record<string, unknown>).discrete = [
      { name: 'stay', value: [0, 0] },
      { name: 'right', value: [1, 0] },
    ];
    const env = await envFrom(doc);
    expect(env.actionSpace).toMatchObject({ type: 'discrete', n: 2, names: ['stay', 'right'] });
    env.reset({ seed: 0 });
    env.step(1);
    expect(Array.from(env.action)).toEqual([1, 0]);
    expect(() => env.step(2)).toThrowError(/integer in \[0, 2\)/);
    expect(() => env.step(0.5)).toThrowError(TrajforgeError);
    env.close();
  });

  it('close() frees the world; the env refuses further use', async () => {
    const env = await envFrom(baseDoc());
    env.reset({ seed: 0 });
    env.close();
    expect(() => env.reset({ seed: 0 })).toThrowError(/closed/);
  });

  it('refuses to step past the end of an episode', async () => {
    const doc = baseDoc();
    doc.task = { timeLimit: 3 };
    const env = await envFrom(doc);
    env.reset({ seed: 0 });
    env.step([0, 0]);
    env.step([0, 0]);
    const last = env.step([0, 0]);
    expect(last.truncated).toBe(true);
    expect(last.terminated).toBe(false);
    expect(() => env.step([0, 0])).toThrowError(/after the episode ended/);
    env.close();
  });
});

describe('joints and motors', () => {
  it('a velocity motor turns a revolute joint at the commanded rate', async () => {
    const env = await createEnv(loadEnv('Reach-v1'));
    env.reset({ seed: 0 });
    // Let the random initial spin settle, then command 0.3 * 3 rad/s on the shoulder only.
    for (let t = 0; t < 20; t++) env.step([0, 0]);
    const before = env.jointAngle(0);
    for (let t = 0; t < 10; t++) env.step([0.3, 0]);
    const rate = (env.jointAngle(0) - before) / 0.5;
    expect(rate).toBeGreaterThan(0.75);
    expect(rate).toBeLessThan(0.95);
    expect(env.jointVelocity(0)).toBeCloseTo(0.9, 1);
    env.close();
  });

  it('prismatic joint angle is the displacement along the axis', async () => {
    const env = await createEnv(loadEnv('CartPole-v1'));
    env.reset({ seed: 0 });
    const i = env.bodyIndex('cart');
    for (let t = 0; t < 5; t++) env.step([0.5]);
    expect(env.jointAngle(0)).toBeCloseTo(env.position(i)[0], 9);
    expect(env.position(i)[1]).toBeCloseTo(0, 4); // the rail holds y and z
    expect(env.position(i)[2]).toBeCloseTo(0.12, 4);
    env.close();
  });
});

describe('suction grip', () => {
  it('attaches the nearby cube, carries it, and releases it', async () => {
    const env = await createEnv(loadEnv('StackCube-v1'));
    env.reset({ seed: 0 });
    const a = env.bodyIndex('cube_a');
    const g = env.bodyIndex('gripper');
    // Fly the gripper point onto cube A with the expert's geometry, then grip and lift.
    for (let t = 0; t < 80; t++) {
      const pa = env.position(a);
      const pg = env.position(g);
      const err = [pa[0] - pg[0], pa[1] - pg[1], pa[2] + 0.035 - pg[2]];
      env.step([err[0]! * 20, err[1]! * 20, err[2]! * 20, 1]);
      if (env.attached(3)) break;
    }
    expect(env.attached(3)).toBe(true);
    for (let t = 0; t < 16; t++) env.step([0, 0, 0.5, 1]);
    expect(env.position(a)[2]).toBeGreaterThan(0.1);
    env.step([0, 0, 0, 0]);
    expect(env.attached(3)).toBe(false);
    for (let t = 0; t < 20; t++) env.step([0, 0, 0, 0]);
    expect(env.position(a)[2]).toBeLessThan(0.05); // fell back down
    env.close();
  });
});

describe('randomisation', () => {
  it('count enables between min and max copies, each with its own draws', async () => {
    const env = await createEnv(loadEnv('FallingObjects-v1'));
    const counts = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      env.reset({ seed });
      const n = env.snapshot().primitives.filter((p) => p.name.startsWith('obj_')).length;
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(10);
      counts.add(n);
    }
    expect(counts.size).toBeGreaterThan(4);
    env.reset({ seed: 1 });
    const colors = env.snapshot().primitives.filter((p) => p.name.startsWith('obj_')).map((p) => p.color.join());
    expect(new Set(colors).size).toBe(colors.length);
    env.close();
  });

  it('awayFrom keeps the goal away from the cube', async () => {
    const env = await createEnv(loadEnv('PushCube-v1'));
    for (let seed = 0; seed < 50; seed++) {
      env.reset({ seed });
      const c = env.position(env.bodyIndex('cube'));
      const g = env.position(env.bodyIndex('goal'));
      expect(Math.hypot(c[0] - g[0], c[1] - g[1])).toBeGreaterThanOrEqual(0.12);
    }
    env.close();
  });
});
