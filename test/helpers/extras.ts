/** The extras fixture: three simulated PushCube episodes carrying a wide latent and a scalar score. */
import { loadEnv } from '../../src/config/load.js';
import { episodeSeed } from '../../src/episode/rollout.js';
import { createRunner } from '../../src/episode/runner.js';
import type { EpisodeData } from '../../src/dataset/episode.js';
import { DEFAULT_LAYOUT } from '../../src/export/lerobot/format.js';
import type { EpisodeSink } from '../../src/dataset/sink.js';
import { datasetMeta, type DatasetMeta } from '../../src/dataset/meta.js';

export const ENV = 'PushCube-v1';
export const LATENT = 80; // wider than 64: must still get per-dimension stats, like observation.state
export const EPISODES = 3;

export function baseMeta(): DatasetMeta {
  return datasetMeta(loadEnv(ENV), {
    cameras: [],
    run: { seed: 0, episodes: EPISODES, shard: { index: 0, count: 1 }, policy: { kind: 'expert', noise: 0, epsilon: 0 }, codec: 'lossless', gop: 2, checkpoint: 2, layout: DEFAULT_LAYOUT },
  });
}

/** Deterministic, non-trivial values (distinct per episode, step and dimension). */
export const latentValue = (e: number, t: number, d: number) => Math.fround(Math.sin(e * 1000 + t * 7.3 + d * 0.91) * (1 + d / 10));

export async function simulate(): Promise<EpisodeData[]> {
  const runner = await createRunner({ config: loadEnv(ENV).config, source: 'extras-test', policy: { kind: 'expert', noise: 0, epsilon: 0 }, cameras: [], supersample: 1 });
  const eps: EpisodeData[] = [];
  for (let k = 0; k < EPISODES; k++) eps.push(await runner.run(k, episodeSeed(0, k)));
  await runner.close();
  return eps.map((ep, e) => {
    const T = ep.length;
    const latent = Float32Array.from({ length: T * LATENT }, (_, i) => latentValue(e, Math.floor(i / LATENT), i % LATENT));
    const final = Float32Array.from({ length: LATENT }, (_, d) => latentValue(e, T, d));
    const score = Float32Array.from({ length: T }, (_, t) => Math.fround(e + t / 100));
    return { ...ep, extras: [{ key: 'observation.latent', dim: LATENT, data: latent, final }, { key: 'wm.score', dim: 1, names: ['score'], data: score }] };
  });
}

export async function write(sink: EpisodeSink, dir: string, meta: DatasetMeta, eps: Iterable<EpisodeData> | AsyncIterable<EpisodeData>): Promise<void> {
  await sink.open(dir, meta, { resume: false });
  for await (const ep of eps) await sink.write(ep);
  await sink.close();
}

/** The dataset meta declaring both extras, with world-model provenance. */
export function extrasMeta(): DatasetMeta {
  return {
    ...baseMeta(),
    extraFeatures: [{ key: 'observation.latent', dim: LATENT }, { key: 'wm.score', dim: 1, names: ['score'] }],
    source: { kind: 'world-model', modelId: 'wm-test-1', model: 'linear-baseline' },
  };
}
