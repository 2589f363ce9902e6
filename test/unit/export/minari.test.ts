import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../../helpers/dataset.js';
import { H5, readNpz, rows as toRows, values } from '../../helpers/readers.js';

describe('--format lerobot,minari,dreamer: consistent contents across formats', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'three');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,minari,dreamer', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('Minari: metadata with double-encoded spaces and Infinity, HDF5 episodes with T+1 observations (jsfive)', () => {
    const base = join(root, 'minari', 'trajforge', 'pushcube-v1', 'data');
    const meta = JSON.parse(readFileSync(join(base, 'metadata.json'), 'utf8'));
    // Python's json writes bare Infinity literals; JSON.parse reads them only as strings.
    const space = (s: string) => JSON.parse(s.replace(/(-?)Infinity/g, '"$1Infinity"'));
    const obs = space(meta.observation_space);
    expect(meta).toMatchObject({ dataset_id: 'trajforge/pushcube-v1', minari_version: '0.5.3', data_format: 'hdf5', total_episodes: 3, jpeg_encoding: false });
    expect(obs.type).toBe('Dict');
    expect(obs.subspaces.state.low[0]).toBe('-Infinity');
    expect(space(meta.action_space)).toMatchObject({ type: 'Box', shape: [2] });
    const f = new H5(join(base, 'main_data.hdf5'));
    expect(f.group('').keys.sort()).toEqual(['episode_0', 'episode_1', 'episode_2']);
    for (let i = 0; i < 3; i++) {
      const g = `episode_${i}`;
      const T = Number(f.group(g).attrs.total_steps);
      expect(f.group(g).attrs.id).toBe(i);
      expect(f.data(`${g}/observations/state`).shape).toEqual([T + 1, 12]);
      expect(f.data(`${g}/observations/image_top`).shape).toEqual([T + 1, 64, 64, 3]);
      expect(f.data(`${g}/actions`).shape).toEqual([T, 2]);
      expect(f.data(`${g}/rewards`).shape).toEqual([T]);
      const term = values(f.data(`${g}/terminations`).value);
      expect(term).toEqual(Array.from({ length: T }, (_, t) => (t === T - 1 ? 1 : 0)));
      expect(values(f.data(`${g}/truncations`).value)).toEqual(new Array(T).fill(0));
      expect(values(f.data(`${g}/infos/success`).value)[T - 1]).toBe(1);
    }
  });

  it('states, actions and rewards agree between LeRobot, Minari and DreamerV3 (DuckDB, jsfive, npyjs)', async () => {
    const rows = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    const f = new H5(join(root, 'minari/trajforge/pushcube-v1/data/main_data.hdf5'));
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    for (let e = 0; e < 3; e++) {
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      const minari = { s: toRows(f.data(`episode_${e}/observations/state`).value, 12), a: toRows(f.data(`episode_${e}/actions`).value, 2), r: values(f.data(`episode_${e}/rewards`).value) };
      const npz = readNpz(join(replay, files[e]!));
      const dreamer = { s: toRows(npz.state!.data, 12), a: toRows(npz.action!.data, 2), r: values(npz.reward!.data) };
      expect(minari.s).toHaveLength(T + 1);
      expect(minari.s.slice(0, T)).toEqual(ep.map((r) => r.s));
      expect(minari.a).toEqual(ep.map((r) => r.a));
      // Minari stores rewards as float64: the float32 values widened exactly.
      expect(minari.r).toEqual(ep.map((r) => r.r));
      expect(dreamer.s).toEqual(minari.s); // both hold the T + 1 observations
      expect(dreamer.a.slice(0, T)).toEqual(minari.a);
      expect(dreamer.r.slice(1)).toEqual(minari.r);
    }
  });
});
