import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { DreamerSink } from '../../../src/export/dreamer/sink.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { mergeLeRobot } from '../../../src/export/lerobot/merge.js';
import { validateLeRobot } from '../../../src/export/lerobot/reader.js';
import { LeRobotSink } from '../../../src/export/lerobot/writer.js';
import { MinariSink } from '../../../src/export/minari/sink.js';
import { RldsSink, rldsName } from '../../../src/export/rlds/sink.js';
import { query, tmpDir } from '../../helpers/dataset.js';
import { baseMeta, ENV, EPISODES, extrasMeta, LATENT, simulate, write } from '../../helpers/extras.js';
import { H5, readEpisodeNpz, readNpz, rows, values } from '../../helpers/readers.js';

describe('extra float features and world-model provenance', () => {
  let root: string;
  let dir: string;
  let eps: EpisodeData[];
  const meta = extrasMeta();
  beforeAll(async () => {
    root = tmpDir('tf-extras-');
    dir = join(root, 'lerobot');
    eps = await simulate();
    await write(new LeRobotSink(), dir, meta, eps);
  }, 120_000);

  it('LeRobot: a valid dataset declaring the extras in info.json (provenance stays out of info.json)', async () => {
    expect(await validateLeRobot(dir, { deep: true })).toEqual([]);
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    expect(info.features['observation.latent']).toEqual({ dtype: 'float32', shape: [LATENT], names: null });
    expect(info.features['wm.score']).toEqual({ dtype: 'float32', shape: [1], names: ['score'] });
    // formats.md lists info.json's keys and allows no others: provenance lives in the sidecars.
    expect(Object.keys(info).sort()).toEqual(['chunks_size', 'codebase_version', 'data_files_size_in_mb', 'data_path', 'features', 'fps', 'robot_type', 'splits', 'total_episodes', 'total_frames', 'total_tasks', 'video_files_size_in_mb', 'video_path']);
  });

  it('LeRobot data parquet (DuckDB): float32 columns holding exactly the written values', async () => {
    const f = join(dir, 'data/chunk-000/file-000.parquet');
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM '${f}'`)).map((r) => [r.column_name, r.column_type]));
    expect(types['observation.latent']).toBe('FLOAT[]');
    expect(types['wm.score']).toBe('FLOAT');
    const rows = await query(`SELECT episode_index AS e, frame_index AS t, "observation.latent" AS z, "wm.score" AS s FROM '${f}' ORDER BY index`);
    expect(rows.length).toBe(eps.reduce((n, e) => n + e.length, 0));
    for (const r of rows) {
      const e = Number(r.e);
      const t = Number(r.t);
      expect(r.z).toEqual(Array.from(eps[e]!.extras![0]!.data.subarray(t * LATENT, (t + 1) * LATENT)));
      expect(r.s).toBe(eps[e]!.extras![1]!.data[t]);
    }
  });

  it('LeRobot stats.json and meta/episodes stats: per-dimension values computed from the written data', async () => {
    const stats = JSON.parse(readFileSync(join(dir, 'meta/stats.json'), 'utf8'));
    const all = eps.flatMap((ep) => Array.from({ length: ep.length }, (_, t) => Array.from(ep.extras![0]!.data.subarray(t * LATENT, (t + 1) * LATENT))));
    const s = stats['observation.latent'];
    expect(s.count).toEqual([all.length]);
    for (const k of ['min', 'max', 'mean', 'std', 'q01', 'q10', 'q50', 'q90', 'q99']) expect(s[k]).toHaveLength(LATENT);
    for (let d = 0; d < LATENT; d++) {
      const col = all.map((row) => row[d]!);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const std = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
      expect(s.min[d]).toBe(Math.min(...col));
      expect(s.max[d]).toBe(Math.max(...col));
      expect(s.mean[d]).toBeCloseTo(mean, 10);
      expect(s.std[d]).toBeCloseTo(std, 10);
    }
    const scores = eps.flatMap((ep) => Array.from(ep.extras![1]!.data));
    expect(stats['wm.score'].count).toEqual([scores.length]);
    expect(stats['wm.score'].min).toEqual([Math.min(...scores)]);
    expect(stats['wm.score'].max).toEqual([Math.max(...scores)]);
    const em = await query(`SELECT episode_index AS e, "stats/observation.latent/mean" AS m, "stats/observation.latent/count" AS c, "stats/wm.score/max" AS smax, source FROM '${join(dir, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
    expect(em).toHaveLength(EPISODES);
    for (const r of em) {
      const ep = eps[Number(r.e)]!;
      const z = ep.extras![0]!.data;
      expect(r.c).toEqual([ep.length]);
      expect((r.m as number[])[5]).toBeCloseTo(Array.from({ length: ep.length }, (_, t) => z[t * LATENT + 5]!).reduce((a, b) => a + b, 0) / ep.length, 10);
      expect(r.smax).toEqual([ep.extras![1]!.data[ep.length - 1]]);
      expect(r.source).toBe('world-model');
    }
  });

  it('LeRobot provenance and extras in the trajforge sidecars, read back by datasetMeta', () => {
    const side = JSON.parse(readFileSync(join(dir, 'meta/trajforge.json'), 'utf8'));
    expect(side.source).toEqual({ kind: 'world-model', model_id: 'wm-test-1', model: 'linear-baseline' });
    expect(side.extra_features).toEqual([{ key: 'observation.latent', dim: LATENT }, { key: 'wm.score', dim: 1, names: ['score'] }]);
    const lines = readFileSync(join(dir, 'meta/trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(EPISODES);
    for (const l of lines) expect(l).toMatchObject({ source: 'world-model', model_id: 'wm-test-1', model: 'linear-baseline' });
    const m = datasetMeta(dir);
    expect(m.source).toEqual(meta.source);
    expect(m.extraFeatures).toEqual(meta.extraFeatures);
  });

  it('LeRobot final values in the episode npz (npyjs)', () => {
    for (let e = 0; e < EPISODES; e++) {
      const d = readEpisodeNpz(dir, e);
      expect(Object.keys(d).filter((k) => k.startsWith('final_extra/'))).toEqual(['final_extra/observation.latent']); // wm.score has no final value
      expect(d['final_extra/observation.latent']).toMatchObject({ dtype: 'f4', shape: [LATENT] });
      expect(values(d['final_extra/observation.latent']!.data)).toEqual(Array.from(eps[e]!.extras![0]!.final!));
    }
  });

  it('readLeRobotEpisodes returns the extras as written; merge keeps them', async () => {
    const check = async (d: string) => {
      let e = 0;
      for await (const ep of readLeRobotEpisodes(d)) {
        const want = eps[e]!;
        expect(ep.obs).toEqual(want.obs);
        expect(ep.extras).toEqual([
          { key: 'observation.latent', dim: LATENT, data: want.extras![0]!.data, final: want.extras![0]!.final },
          { key: 'wm.score', dim: 1, names: ['score'], data: want.extras![1]!.data },
        ]);
        e++;
      }
      expect(e).toBe(EPISODES);
    };
    await check(dir);
    const merged = join(root, 'merged');
    await mergeLeRobot([dir], merged);
    await check(merged);
    expect(readFileSync(join(merged, 'meta/stats.json'), 'utf8')).toBe(readFileSync(join(dir, 'meta/stats.json'), 'utf8'));
    expect(readFileSync(join(merged, 'meta/trajforge_episodes.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'meta/trajforge_episodes.jsonl'), 'utf8'));
    expect(datasetMeta(merged).source).toEqual(meta.source);
  });

  it('convert path: DreamerV3 npz carries each extra as an array with T + 1 rows (npyjs)', async () => {
    const out = join(root, 'dreamer');
    await write(new DreamerSink(), out, datasetMeta(dir), readLeRobotEpisodes(dir));
    const replay = join(out, 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(EPISODES);
    files.forEach((f, e) => {
      const a = readNpz(join(replay, f));
      const ep = eps[e]!;
      const T = ep.length;
      expect(a.observation_latent).toMatchObject({ dtype: 'f4', shape: [T + 1, LATENT] });
      expect(a.wm_score).toMatchObject({ dtype: 'f4', shape: [T + 1, 1] });
      expect(a.state!.shape).toEqual([T + 1, 12]);
      const z = rows(a.observation_latent!.data, LATENT);
      expect(z[3]).toEqual(Array.from(ep.extras![0]!.data.subarray(3 * LATENT, 4 * LATENT)));
      expect(z[T]).toEqual(Array.from(ep.extras![0]!.final!));
      const score = values(a.wm_score!.data);
      expect(score.slice(0, T)).toEqual(Array.from(ep.extras![1]!.data));
      expect(score[T]).toBeNaN(); // no final value given: NaN, never a made-up number
    });
    const dj = JSON.parse(readFileSync(join(out, 'dreamer.json'), 'utf8'));
    expect(dj.source).toEqual({ kind: 'world-model', model_id: 'wm-test-1', model: 'linear-baseline' });
    expect(dj.extra_features[0]).toEqual({ key: 'observation.latent', array: 'observation_latent', dim: LATENT });
  });

  it('convert path: Minari declares each extra as an observation subspace with T + 1 rows (jsfive)', async () => {
    const out = join(root, 'minari');
    await write(new MinariSink(), out, datasetMeta(dir), readLeRobotEpisodes(dir));
    const base = join(out, 'trajforge/pushcube-v1/data');
    const meta = JSON.parse(readFileSync(join(base, 'metadata.json'), 'utf8'));
    // Python's json writes bare Infinity literals; JSON.parse reads them only as strings.
    const obs = JSON.parse((meta.observation_space as string).replace(/(-?)Infinity/g, '"$1Infinity"'));
    expect(obs.subspaces.observation_latent.shape).toEqual([LATENT]);
    expect(obs.subspaces.wm_score.shape).toEqual([1]);
    expect(meta.trajforge.source).toEqual({ kind: 'world-model', model_id: 'wm-test-1', model: 'linear-baseline' });
    const f = new H5(join(base, 'main_data.hdf5'));
    expect(meta.total_episodes).toBe(EPISODES);
    eps.forEach((ep, e) => {
      const g = `episode_${e}/observations`;
      const latent = f.data(`${g}/observation_latent`);
      expect(latent.dtype).toBe('<f4');
      expect(latent.shape).toEqual([ep.length + 1, LATENT]);
      expect(f.data(`${g}/state`).shape).toEqual([ep.length + 1, 12]);
      const z = rows(latent.value, LATENT);
      expect(z[0]).toEqual(Array.from(ep.extras![0]!.data.subarray(0, LATENT)));
      expect(z[ep.length]).toEqual(Array.from(ep.extras![0]!.final!));
      const score = values(f.data(`${g}/wm_score`).value);
      expect(score.slice(0, ep.length)).toEqual(Array.from(ep.extras![1]!.data));
      expect(score[ep.length]).toBeNaN();
    });
  });

  it('RLDS: provenance in the dataset description', async () => {
    const out = join(root, 'rlds');
    await write(new RldsSink(), out, datasetMeta(dir), readLeRobotEpisodes(dir));
    const info = JSON.parse(readFileSync(join(out, rldsName(ENV), '1.0.0/dataset_info.json'), 'utf8'));
    expect(info.description).toMatch(/Dreamed by a world model \(wm-test-1, linear-baseline\), not simulated\.$/);
  });

  it('rejects undeclared, missing or mis-sized extras and bad keys before writing', async () => {
    const ep = eps[0]!;
    const plain = baseMeta();
    const sink = new LeRobotSink();
    await sink.open(join(root, 'bad1'), plain, { resume: false });
    await expect(sink.write(ep)).rejects.toThrow(/observation.latent was not declared/);
    const sink2 = new LeRobotSink();
    await sink2.open(join(root, 'bad2'), meta, { resume: false });
    await expect(sink2.write({ ...ep, extras: [ep.extras![0]!] })).rejects.toThrow(/wm.score is declared but missing/);
    await expect(sink2.write({ ...ep, extras: [{ ...ep.extras![0]!, data: ep.extras![0]!.data.subarray(1) }, ep.extras![1]!] })).rejects.toThrow(/expected length × dim/);
    await expect(new LeRobotSink().open(join(root, 'bad3'), { ...plain, extraFeatures: [{ key: 'a/b', dim: 2 }] }, { resume: false })).rejects.toThrow(/no '\/'/);
    await expect(new LeRobotSink().open(join(root, 'bad4'), { ...plain, extraFeatures: [{ key: 'observation.state', dim: 2 }] }, { resume: false })).rejects.toThrow(/clashes/);
    await expect(new DreamerSink().open(join(root, 'bad5'), { ...plain, extraFeatures: [{ key: 'x', dim: 2, names: ['a'] }] }, { resume: false })).rejects.toThrow(/1 names for dim 2/);
  });

  it('a dataset without extras or source has none of the new keys', async () => {
    const plain = join(root, 'plain');
    await write(new LeRobotSink(), plain, baseMeta(), eps.map((ep) => ({ ...ep, extras: undefined })));
    const side = JSON.parse(readFileSync(join(plain, 'meta/trajforge.json'), 'utf8'));
    expect('source' in side || 'extra_features' in side).toBe(false);
    const line = JSON.parse(readFileSync(join(plain, 'meta/trajforge_episodes.jsonl'), 'utf8').split('\n')[0]!);
    expect('source' in line || 'model_id' in line).toBe(false);
    expect(datasetMeta(plain).source).toBeUndefined();
    const em = await query(`SELECT DISTINCT source FROM '${join(plain, 'meta/episodes/chunk-000/file-000.parquet')}'`);
    expect(em).toEqual([{ source: 'simulation' }]);
  });
});
