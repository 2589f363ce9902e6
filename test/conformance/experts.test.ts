import { describe, expect, it } from 'vitest';
import { listEnvironments, loadEnv } from '../../src/config/load.js';
import { episodeSeed, summarizeEpisode } from '../../src/episode/rollout.js';
import { makePolicy } from '../../src/policy/index.js';
import { createEnv } from '../../src/sim/env.js';

/** Every task environment ships an expert that succeeds >= 80% over 100 seeds; random play clearly less. */
const TASKS = listEnvironments().filter((e) => loadEnv(e.file).config.task.success.length > 0);

it('the shipped suite has at least four task environments', () => {
  expect(TASKS.length).toBeGreaterThanOrEqual(4);
});

describe.each(TASKS.map((t) => t.id))('%s', (id) => {
  it('expert >= 80% success over 100 seeds; random at most half of that', async () => {
    const env = await createEnv(loadEnv(id));
    expect(env.spec.hasExpert).toBe(true);
    const rate = (kind: 'expert' | 'random') => {
      const policy = makePolicy(kind, env);
      let ok = 0;
      for (let k = 0; k < 100; k++) ok += summarizeEpisode(env, policy, episodeSeed(2024, k)).success ? 1 : 0;
      return ok / 100;
    };
    const expert = rate('expert');
    const random = rate('random');
    env.close();
    expect(expert).toBeGreaterThanOrEqual(0.8);
    expect(random).toBeLessThanOrEqual(expert / 2);
  });

  it('the expert still mostly succeeds with exploration noise (for diverse demonstrations)', async () => {
    const env = await createEnv(loadEnv(id));
    const rate = (noise: number, epsilon: number) => {
      const policy = makePolicy('expert', env, { noise, epsilon });
      let ok = 0;
      for (let k = 0; k < 30; k++) ok += summarizeEpisode(env, policy, episodeSeed(7, k)).success ? 1 : 0;
      return ok / 30;
    };
    const light = rate(0.1, 0.05);
    // The world-model recipe's noise (README, bench:models): demonstrations that still reach the
    // goal, or a model trained on them never sees the task's later phases.
    const heavy = rate(0.3, 0.1);
    env.close();
    expect(light).toBeGreaterThanOrEqual(0.6);
    expect(heavy).toBeGreaterThanOrEqual(0.4);
  });
});
