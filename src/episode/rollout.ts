import { deriveSeed } from '../core/rng.js';
import type { Action } from '../core/spaces.js';
import { TrajforgeError } from '../core/errors.js';
import { isPending, type AnyPolicy, type Policy } from '../policy/policy.js';
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

/** Runs one episode to its end, yielding every transition. The policy must act synchronously (see rolloutAsync). */
export function* rollout(env: PhysicsEnv, policy: Policy, seed: number): Generator<StepRecord> {
  let { obs } = env.reset({ seed });
  policy.reset(deriveSeed(seed, 'policy'));
  for (;;) {
    const action: Action | Promise<Action> = policy.act(obs, env);
    if (isPending(action)) throw new TrajforgeError('E_POLICY_INVALID', `the ${policy.name} policy acts asynchronously (an ONNX policy runs in onnxruntime); iterate rolloutAsync(env, policy, seed) with for await`);
    const r = env.step(action);
    yield { obs, action, reward: r.reward, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated, info: r.info };
    obs = r.obs;
    if (r.terminated || r.truncated) return;
  }
}

/** rollout for any policy, awaiting actions that are pending (an ONNX policy's): `for await (const step of rolloutAsync(...))`. */
export async function* rolloutAsync(env: PhysicsEnv, policy: AnyPolicy, seed: number): AsyncGenerator<StepRecord> {
  let { obs } = env.reset({ seed });
  policy.reset(deriveSeed(seed, 'policy'));
  for (;;) {
    const acted = policy.act(obs, env);
    const action = isPending(acted) ? await acted : acted;
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
  const tally = summary(seed);
  for (const s of rollout(env, policy, seed)) tally.add(s);
  return tally.result();
}

/** summarizeEpisode for any policy (see rolloutAsync). */
export async function summarizeEpisodeAsync(env: PhysicsEnv, policy: AnyPolicy, seed: number): Promise<EpisodeSummary> {
  const tally = summary(seed);
  for await (const s of rolloutAsync(env, policy, seed)) tally.add(s);
  return tally.result();
}

function summary(seed: number): { add(s: StepRecord): void; result(): EpisodeSummary } {
  let steps = 0;
  let ret = 0;
  let last: StepRecord | undefined;
  return {
    add(s) {
      steps++;
      ret += s.reward;
      last = s;
    },
    result: () => ({ seed, steps, return: ret, success: last?.info.success ?? false, terminated: last?.terminated ?? false, truncated: last?.truncated ?? false }),
  };
}
