/** Fixed-seed generate runs whose written bytes are pinned by test/goldens/datasets/digests.json. */
import { fileURLToPath } from 'node:url';
import { loadEnv } from '../../src/config/load.js';
import type { GenerateOptions } from '../../src/pipeline/generate.js';
import { generateOptions } from './generate.js';

export interface DatasetCase {
  name: string;
  options(out: string): GenerateOptions;
}

/** generate's test defaults with every channel, a noisy policy and lossless video, for `env` and `format`. */
const base = (out: string, env: string, format: string, overrides: Partial<GenerateOptions> = {}): GenerateOptions =>
  generateOptions(out, { env: loadEnv(env), format, episodes: 5, seed: 7, policy: { kind: 'noise', noise: 0.3, epsilon: 0.1 }, codec: 'lossless', channels: undefined, ...overrides });

export const CASES: DatasetCase[] = [
  // Every format from one run, every channel of PushCube's camera.
  { name: 'push-cube-all-formats', options: (out) => base(out, 'PushCube-v1', 'lerobot,dreamer,minari,rlds,frames') },
  // A passive scene (no actions), H.264 video, several objects, flow and normals.
  { name: 'falling-objects-lerobot-h264', options: (out) => base(out, 'FallingObjects-v1', 'lerobot', { codec: 'h264', policy: { kind: 'random', noise: 0, epsilon: 0 }, channels: ['rgb', 'depth', 'segmentation', 'flow', 'normals'] }) },
  // A discrete-action environment in the formats that store actions differently.
  { name: 'cart-pole-minari-rlds-dreamer', options: (out) => base(out, 'CartPole-v1', 'minari,rlds,dreamer', { policy: { kind: 'random', noise: 0, epsilon: 0 } }) },
];

export const DATASET_DIGESTS = fileURLToPath(new URL('../goldens/datasets/digests.json', import.meta.url));
