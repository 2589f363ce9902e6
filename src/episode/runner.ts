import type { EnvConfig } from '../config/schema.js';
import { validateEnvConfig } from '../config/parse.js';
import { makePolicy } from '../policy/index.js';
import type { AnyPolicy, PolicySpec } from '../policy/policy.js';
import { Renderer } from '../render/renderer.js';
import { createEnv, type PhysicsEnv } from '../sim/env.js';
import { simulateEpisode, type CameraRequest } from './simulate.js';
import { type EpisodeData } from '../dataset/episode.js';

/** Everything a worker needs to produce episodes: plain data, so it crosses thread boundaries. */
export interface RunnerInit {
  config: EnvConfig;
  source: string;
  policy: PolicySpec;
  /** An ONNX policy's absolute path (policy.file is the path as the user gave it). */
  policyPath?: string;
  cameras: CameraRequest[];
  supersample: number;
}

export interface EpisodeRunner {
  run(episode: number, seed: number): Promise<EpisodeData>;
  close(): Promise<void>;
}

/** One environment + policy + renderer, owned by one thread. */
export async function createRunner(init: RunnerInit): Promise<EpisodeRunner> {
  const env = await createEnv(validateEnvConfig(init.config, init.source));
  let made: { policy: AnyPolicy; dispose?: () => Promise<void> };
  try {
    made = await runnerPolicy(init, env);
  } catch (e) {
    env.close();
    throw e;
  }
  const { policy, dispose } = made;
  const renderer = new Renderer({ supersample: init.supersample });
  return {
    run: (episode, seed) => simulateEpisode(env, policy, renderer, episode, seed, init.cameras),
    close: async () => {
      await dispose?.();
      env.close();
    },
  };
}

/**
 * The run's policy in this thread. An ONNX policy is loaded from its file in every thread that
 * runs episodes (a session does not cross threads) and must still have the hash the run recorded.
 */
async function runnerPolicy(init: RunnerInit, env: PhysicsEnv): Promise<{ policy: AnyPolicy; dispose?: () => Promise<void> }> {
  const spec = init.policy;
  if (spec.kind !== 'onnx') return { policy: makePolicy(spec.kind, env, { noise: spec.noise, epsilon: spec.epsilon }) };
  const { loadOnnxPolicyFile } = await import('../policy/load.js');
  const { policy } = await loadOnnxPolicyFile(init.policyPath ?? spec.file, env, { sha256: spec.sha256, noise: spec.noise, epsilon: spec.epsilon });
  return { policy, dispose: () => policy.dispose() };
}
