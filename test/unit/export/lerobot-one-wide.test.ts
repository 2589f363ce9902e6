import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { query, tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';


describe('LeRobot episodes of an environment with a one-wide action', () => {
  it('read back: the action column is a scalar column (LeRobot stores shape [1] features so) and the reader takes it', async () => {
    const dir = join(tmpDir('tf-one-wide-'), 'cartpole');
    await generateDataset(generateOptions(dir, { env: loadEnv('CartPole-v1'), episodes: 2, policy: { kind: 'random', noise: 0, epsilon: 0 } }));
    const rows = await query(`SELECT action FROM read_parquet('${dir}/data/*/*.parquet') ORDER BY "index"`);
    expect(typeof rows[0]!.action).toBe('number');
    const actions: number[] = [];
    for await (const ep of readLeRobotEpisodes(dir, { channels: ['rgb'] })) actions.push(...ep.actions);
    expect(actions.length).toBe(rows.length);
    expect(actions).toEqual(rows.map((r) => Math.fround(r.action as number)));
  }, 60_000);
});
