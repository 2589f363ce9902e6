import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../helpers/dataset.js';
import { py } from './python.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_pipeline.py');

interface Training {
  initial: number;
  final: number;
  losses: number[];
}

/** Finite losses at every step, and the loss over the same batches after training well below before. */
function expectLearns(r: Training): void {
  expect(r.losses.every(Number.isFinite)).toBe(true);
  expect(r.final, JSON.stringify(r)).toBeLessThan(0.5 * r.initial);
}

/** PyTorch Datasets and DataLoaders over a LeRobot and a DreamerV3 dataset this tool writes. */
describe('PyTorch training input (torch, PyAV, numpy)', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'torch');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,dreamer', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('LeRobot: frames decoded by PyAV at from_timestamp + timestamp (1e-4 s), batched with state and action; behaviour cloning learns', async () => {
    const dir = join(root, 'lerobot');
    // Debian ships no Python parquet reader: DuckDB hands the parquet columns to the script.
    const data = await query(`SELECT "observation.state" AS s, action AS a, episode_index AS e, timestamp AS t FROM '${join(dir, 'data/chunk-000/file-000.parquet')}' ORDER BY index`);
    const eps = await query(`SELECT episode_index AS e, "videos/observation.images.top/from_timestamp" AS f, "videos/observation.images.top/chunk_index" AS c, "videos/observation.images.top/file_index" AS fi FROM '${join(dir, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
    const columns = join(root, 'columns.json');
    writeFileSync(columns, JSON.stringify({
      data: { 'observation.state': data.map((r) => r.s), action: data.map((r) => r.a), episode_index: data.map((r) => Number(r.e)), timestamp: data.map((r) => r.t) },
      episodes: { episode_index: eps.map((r) => Number(r.e)), from_timestamp: eps.map((r) => r.f), chunk_index: eps.map((r) => Number(r.c)), file_index: eps.map((r) => Number(r.fi)) },
    }));
    const r = py(SCRIPT, 'lerobot', dir, columns) as Training & { items: number; decoded_frames: number; image: number[]; image_range: number[]; state: number[]; action: number[]; max_pts_error: number };
    expect(r.items).toBe(data.length);
    expect(r.decoded_frames).toBe(data.length); // one shared mp4, every frame of every episode
    expect(r.image).toEqual([16, 3, 64, 64]);
    expect(r.image_range[0]).toBeGreaterThanOrEqual(0);
    expect(r.image_range[1]).toBeLessThanOrEqual(1);
    expect(r.image_range[1]! - r.image_range[0]!).toBeGreaterThan(0.3); // a real picture, not a flat frame
    expect(r.state).toEqual([16, 12]);
    expect(r.action).toEqual([16, 2]);
    expect(r.max_pts_error).toBeLessThanOrEqual(1e-4);
    expectLearns(r);
  }, 300_000);

  it('DreamerV3: windows of 8 steps from np.load-ed replay chunks; a one-step model of next state and reward learns', () => {
    const r = py(SCRIPT, 'dreamer', join(root, 'dreamer', 'replay')) as Training & { windows: number; chunks: number; image: number[]; action: number[]; state: number[]; reward: number[]; is_first_dtype: string };
    expect(r.chunks).toBe(3);
    expect(r.windows).toBeGreaterThan(32);
    expect(r.image).toEqual([8, 8, 3, 64, 64]);
    expect(r.action).toEqual([8, 8, 2]);
    expect(r.state).toEqual([8, 8, 12]);
    expect(r.reward).toEqual([8, 8]);
    expect(r.is_first_dtype).toBe('torch.bool');
    expectLearns(r);
  }, 300_000);
});
