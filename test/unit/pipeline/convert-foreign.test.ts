/**
 * convert reads other tools' LeRobot datasets (v3 and v2.1, no trajforge record) and writes every
 * format: each episode of T rows becomes T − 1 steps closed by its last row, read back here by
 * DuckDB (LeRobot), jsfive (Minari's HDF5) and npyjs (DreamerV3's npz), not by trajforge's readers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../../src/dataset/open.js';
import { convertDataset } from '../../../src/pipeline/convert.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { query, tmpDir } from '../../helpers/dataset.js';
import { FOREIGN_MOTORS, writeForeignDataset, type ForeignFixture } from '../../helpers/lerobot-foreign.js';
import { H5, readNpz, rows } from '../../helpers/readers.js';

let root: string;
let v3: ForeignFixture;
let v21: ForeignFixture;
const LENGTHS = [7, 9, 1, 6];

beforeAll(() => {
  root = tmpDir('tf-convert-foreign-');
  v3 = writeForeignDataset(join(root, 'so100_v3'), { lengths: LENGTHS, cameras: [{ name: 'front', width: 32, height: 24, codec: 'h264' }] });
  v21 = writeForeignDataset(join(root, 'so100_v21'), { version: 'v2.1', lengths: [7, 9, 8] });
});

describe("convert of another tool's LeRobot dataset", () => {
  it('writes LeRobot v3, Minari and DreamerV3: T − 1 steps an episode, the last row as the final observation, a one-row episode left out with a notice', async () => {
    const notices: string[] = [];
    const out = join(root, 'out');
    const s = await convertDataset({ src: v3.dir, to: 'lerobot,minari,dreamer', out, onNotice: (m) => notices.push(m) });
    expect(s).toMatchObject({ episodes: 3, frames: 6 + 8 + 5, dropped: 1 });
    expect(notices.join('\n')).toMatch(/episode 2 has 1 row/);

    // LeRobot v3, read by DuckDB: the first T − 1 rows' states and actions, as the source wrote them.
    const data = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a FROM read_parquet('${out}/lerobot/data/*/*.parquet') ORDER BY index`);
    const kept = [0, 1, 3];
    const expected = kept.flatMap((e) => Array.from({ length: LENGTHS[e]! - 1 }, (_, t) => ({ s: v3.state[e]!.slice(t * 6, t * 6 + 6), a: v3.action[e]!.slice(t * 6, t * 6 + 6) })));
    expect(data.map((r) => ({ s: Array.from(r.s as number[]), a: Array.from(r.a as number[]) }))).toEqual(expected);
    expect(await validateDataset({ dir: join(out, 'lerobot') })).toMatchObject({ valid: true, problems: [] });
    const side = JSON.parse(readFileSync(join(out, 'lerobot', 'meta', 'trajforge.json'), 'utf8')) as Record<string, unknown>;
    expect(side).toMatchObject({ env_id: 'so100_follower', fps: 10, action_names: FOREIGN_MOTORS, observation_names: FOREIGN_MOTORS });
    expect(side.config).toBeUndefined();
    expect(JSON.parse(readFileSync(join(out, 'lerobot', 'meta', 'info.json'), 'utf8'))).toMatchObject({ robot_type: 'so100_follower', fps: 10 });
    const card = readFileSync(join(out, 'lerobot', 'README.md'), 'utf8');
    expect(card).toContain('recorded by another tool');
    expect(card).toContain('no environment config');
    // Read back whole: its frames are the source's (re-encoded), and it converts again.
    const back = await openDataset(join(out, 'lerobot'));
    expect(back.info).toMatchObject({ writtenBy: 'trajforge', episodes: 3, frames: 19, cameras: [{ name: 'front', width: 32, height: 24, channels: ['rgb'] }] });
    await back.close();
    // A model of the source encodes the copy, whose record now carries the same config hash.
    const { trainWorldModel, encodeDataset } = await import('../../../src/pipeline/index.js');
    await trainWorldModel({ dataset: v3.dir, out: join(root, 'model'), kind: 'conv', steps: 1, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1 });
    const encodeNotices: string[] = [];
    const enc = await encodeDataset({ dataset: join(out, 'lerobot'), model: join(root, 'model'), out: join(root, 'encoded'), threads: 1, onNotice: (m) => encodeNotices.push(m) });
    expect(enc).toMatchObject({ episodes: 3, frames: 19, latent: 24 });
    expect(encodeNotices).toEqual([]);
    const z = await query(`SELECT "observation.latent" AS z FROM read_parquet('${root}/encoded/data/*/*.parquet')`);
    expect(z).toHaveLength(19);
    expect((z[0]!.z as number[]).length).toBe(24);

    // Minari (jsfive): T − 1 actions, T observations (the last row's state closes the episode), truncated at the end.
    const h5 = new H5(join(out, 'minari', 'trajforge', 'so100_follower-v0', 'data', 'main_data.hdf5'));
    for (const [k, e] of kept.entries()) {
      const T = LENGTHS[e]! - 1;
      expect(rows(h5.data(`episode_${k}/actions`).value, 6)).toEqual(Array.from({ length: T }, (_, t) => v3.action[e]!.slice(t * 6, t * 6 + 6)));
      const states = rows(h5.data(`episode_${k}/observations/state`).value, 6);
      expect(states).toHaveLength(T + 1);
      expect(states[T]).toEqual(v3.state[e]!.slice(T * 6, T * 6 + 6));
      const truncations = Array.from(h5.data(`episode_${k}/truncations`).value as ArrayLike<number | boolean>, Number);
      expect(truncations).toEqual(Array.from({ length: T }, (_, t) => (t === T - 1 ? 1 : 0)));
    }

    // DreamerV3 (npyjs): one npz per episode, T + 1 images of the camera.
    const replay = join(out, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(3);
    const npz = readNpz(join(replay, files[0]!));
    expect(npz.action!.shape).toEqual([7, 6]);
    expect(Object.values(npz).some((a) => a.shape.join() === '7,24,32,3')).toBe(true);
  }, 60_000);

  it('reads a v2.1 dataset (one file per episode) the same way, and refuses a dataset with nothing to convert, writing nothing', async () => {
    const s = await convertDataset({ src: v21.dir, to: 'minari', out: join(root, 'v21-minari') });
    expect(s).toMatchObject({ episodes: 3, frames: 6 + 8 + 7, dropped: 0 });
    const single = writeForeignDataset(join(root, 'single_rows'), { lengths: [1, 1], cameras: [{ name: 'front', width: 16, height: 16, codec: 'h264' }] });
    await expect(convertDataset({ src: single.dir, to: 'dreamer', out: join(root, 'none') })).rejects.toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringContaining('no episode with two rows') });
    expect(existsSync(join(root, 'none'))).toBe(false);
  }, 60_000);
});
