/** Fixed-seed generate runs whose written bytes are pinned by test/goldens/datasets/digests.json. */
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../../src/config/load.js';
import type { GenerateOptions } from '../../src/pipeline/generate.js';

export interface DatasetCase {
  name: string;
  options(out: string): GenerateOptions;
}

const base = (out: string): Omit<GenerateOptions, 'env' | 'format'> => ({
  out,
  episodes: 5,
  seed: 7,
  workers: 0,
  policy: { kind: 'noise', noise: 0.3, epsilon: 0.1 },
  shard: { index: 0, count: 1 },
  resume: false,
  overwrite: false,
  codec: 'lossless',
  gop: 2,
  checkpoint: 2,
});

export const CASES: DatasetCase[] = [
  // Every format from one run, every channel of PushCube's camera.
  { name: 'push-cube-all-formats', options: (out) => ({ ...base(out), env: loadEnv('PushCube-v1'), format: 'lerobot,dreamer,minari,rlds,frames' }) },
  // A passive scene (no actions), H.264 video, several objects, flow and normals.
  { name: 'falling-objects-lerobot-h264', options: (out) => ({ ...base(out), env: loadEnv('FallingObjects-v1'), format: 'lerobot', codec: 'h264', policy: { kind: 'random', noise: 0, epsilon: 0 }, channels: ['rgb', 'depth', 'segmentation', 'flow', 'normals'] }) },
  // A discrete-action environment in the formats that store actions differently.
  { name: 'cart-pole-minari-rlds-dreamer', options: (out) => ({ ...base(out), env: loadEnv('CartPole-v1'), format: 'minari,rlds,dreamer', policy: { kind: 'random', noise: 0, epsilon: 0 } }) },
];

export const DATASET_DIGESTS = fileURLToPath(new URL('../goldens/datasets/digests.json', import.meta.url));
