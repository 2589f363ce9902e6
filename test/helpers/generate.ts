/** Library-level generate runs for tests: small default options and runs stopped midway. */
import { expect } from 'vitest';
import { loadEnv } from '../../src/config/load.js';
import { generateDataset, type GenerateOptions } from '../../src/pipeline/generate.js';

/** A small PushCube-v1 run into `out` (4 episodes, in-process, rgb only), with any option replaced. */
export function generateOptions(out: string, overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    env: loadEnv('PushCube-v1'),
    out,
    episodes: 4,
    seed: 0,
    workers: 0,
    format: 'lerobot',
    policy: { kind: 'expert', noise: 0, epsilon: 0 },
    shard: { index: 0, count: 1 },
    resume: false,
    overwrite: false,
    codec: 'h264',
    gop: 2,
    checkpoint: 2,
    channels: ['rgb'],
    ...overrides,
  };
}

/** A run stopped by an error once `episodes` episodes are written: what a kill leaves, minus a half-written tail. */
export async function interruptedRun(opts: GenerateOptions, episodes: number): Promise<void> {
  const stop = (p: { done: number }) => {
    if (p.done === episodes) throw new Error('interrupted by the test');
  };
  await expect(generateDataset({ ...opts, onProgress: stop })).rejects.toThrow('interrupted by the test');
}
