import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { cli, query, tmpDir } from '../../helpers/dataset.js';

describe('generate --channels', () => {
  it('writes every requested channel, also ones the camera does not declare', async () => {
    const root = tmpDir('tf-channels-');
    const declared = loadEnv('PushCube-v1').config.cameras.map((c) => c.channels);
    expect(declared[0]).not.toContain('flow');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '1', '--workers', '0', '--channels', 'normals,flow,segmentation,depth,rgb', '--out', 'ds'], root);
    expect(r.code, r.err).toBe(0);
    const side = JSON.parse(readFileSync(join(root, 'ds', 'meta', 'trajforge.json'), 'utf8'));
    for (const cam of side.cameras) expect(cam.channels).toEqual(['rgb', 'depth', 'segmentation', 'flow', 'normals']);
    const [row] = await query(`SELECT * FROM read_parquet('${join(root, 'ds')}/data/*/*.parquet') LIMIT 1`);
    const cam = side.cameras[0].name;
    for (const ch of ['depth', 'segmentation', 'flow', 'normals']) expect(Object.keys(row!).some((k) => k.includes(cam) && k.includes(ch)), `${ch} column`).toBe(true);
    const events: string[] = [];
    const v = await validateDataset({ dir: join(root, 'ds'), onProgress: (p) => events.push(`${p.stage} ${p.done}/${p.total}`) });
    expect(v.valid).toBe(true);
    // Progress of the slow part, the video timestamps, one event per episode.
    expect(events).toEqual(['videos 0/1', 'videos 1/1']);
  }, 120_000);
});
