import { deriveSeed } from '../core/rng.js';
import type { Action } from '../core/spaces.js';
import type { Policy } from '../policy/policy.js';
import type { PhysicsEnv, StepInfo } from '../sim/env.js';

/** Seed of episode k of a run: depends only on (run seed, k), never on workers or shards. */
export function episodeSeed(runSeed: number, episode: number): number {
  return deriveSeed(runSeed, 'episode', episode);
}

export interface StepRecord {
  /** Observation the action was chosen from. */
  obs: Float32Array;
  action: Action;
  reward: number;
  /** Observation after the action. */
  nextObs: Float32Array;
  terminated: boolean;
  truncated: boolean;
  info: StepInfo;
}

/** Runs one episode to its end, yielding every transition. */
export function* rollout(env: PhysicsEnv, policy: Policy, seed: number): Generator<StepRecord> {
  let { obs } = env.reset({ seed });
  policy.reset(deriveSeed(seed, 'policy'));
  for (;;) {
    const action = policy.act(obs, env);
    const r = env.step(action);
    yield { obs, action, reward: r.reward, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated, info: r.info };
    obs = r.obs;
    if (r.terminated || r.truncated) return;
  }
}

export interface EpisodeSummary {
  seed: number;
  steps: number;
  return: number;
  success: boolean;
  terminated: boolean;
  truncated: boolean;
}

export function summarizeEpisode(env: PhysicsEnv, policy: Policy, seed: number): EpisodeSummary {
  let steps = 0;
  let ret = 0;
  let last: StepRecord | undefined;
  for (const s of rollout(env, policy, seed)) {
    steps++;
    ret += s.reward;
    last = s;
  }
  return { seed, steps, return: ret, success: last?.info.success ?? false, terminated: last?.terminated ?? false, truncated: last?.truncated ?? false };
}
