import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { replayDataset } from '../../../src/pipeline/replay.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';

async function all(dir: string, channels?: ('rgb' | 'depth' | 'normals')[]): Promise<EpisodeData[]> {
  const out: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir, channels ? { channels } : {})) out.push(ep);
  return out;
}

let root: string;
beforeAll(async () => {
  root = tmpDir('tf-replay-');
  await generateDataset(generateOptions(join(root, 'src'), { episodes: 3, policy: { kind: 'expert', noise: 0.3, epsilon: 0.1 }, codec: 'lossless' }));
}, 120_000);

describe('trajforge replay', () => {
  it('re-simulates the stored episodes with a new camera size and channels: same states and actions, the new frames', async () => {
    const out = join(root, 'big');
    const s = await replayDataset({ dataset: join(root, 'src'), out, overrides: ['cameras[top].resolution=[96,96]'], channels: ['rgb', 'normals'], codec: 'lossless' });
    expect(s.episodes).toBe(3);
    const before = await all(join(root, 'src'), []);
    const after = await all(out, ['rgb', 'normals']);
    expect(after.map((e) => [e.seed, e.length])).toEqual(before.map((e) => [e.seed, e.length]));
    after.forEach((e, k) => {
      expect(Buffer.from(e.obs.buffer).equals(Buffer.from(before[k]!.obs.buffer))).toBe(true);
      expect(Array.from(e.actions)).toEqual(Array.from(before[k]!.actions));
      const normals = e.frames.find((f) => f.channel === 'normals')!;
      expect([normals.width, normals.height, normals.data.length]).toEqual([96, 96, e.length * 96 * 96 * 3]);
    });
    expect((await validateDataset({ dir: out })).valid).toBe(true);
  }, 120_000);

  it('refuses an override that changes the physics, naming the episode and step; nothing is written', async () => {
    const out = join(root, 'heavy');
    const r = await cli(['replay', 'src', '--out', 'heavy', '--set', 'bodies[cube].mass=5'], root);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[E_DATASET_INVALID\]: src: episode 0 \(seed \d+\) does not replay: at step \d+ observation \d+ is/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
