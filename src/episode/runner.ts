import type { EnvConfig } from '../config/schema.js';
import { validateEnvConfig } from '../config/parse.js';
import { makePolicy, type PolicyKind } from '../policy/index.js';
import { Renderer } from '../render/renderer.js';
import { createEnv } from '../sim/env.js';
import { simulateEpisode, type CameraRequest } from './simulate.js';
import { type EpisodeData } from '../dataset/episode.js';

/** Everything a worker needs to produce episodes: plain data, so it crosses thread boundaries. */
export interface RunnerInit {
  config: EnvConfig;
  source: string;
  policy: { kind: PolicyKind; noise: number; epsilon: number };
  cameras: CameraRequest[];
  supersample: number;
}

export interface EpisodeRunner {
  run(episode: number, seed: number): EpisodeData;
  close(): void;
}

/** One environment + policy + renderer, owned by one thread. */
export async function createRunner(init: RunnerInit): Promise<EpisodeRunner> {
  const env = await createEnv(validateEnvConfig(init.config, init.source));
  const policy = makePolicy(init.policy.kind, env, { noise: init.policy.noise, epsilon: init.policy.epsilon });
  const renderer = new Renderer({ supersample: init.supersample });
  return {
    run: (episode, seed) => simulateEpisode(env, policy, renderer, episode, seed, init.cameras),
    close: () => env.close(),
  };
}
