import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EpisodeData } from '../../src/dataset/episode.js';
import { DreamerSink } from '../../src/export/dreamer/sink.js';
import { datasetMeta, readLeRobotEpisodes } from '../../src/export/lerobot/episodes.js';
import { LeRobotSink } from '../../src/export/lerobot/writer.js';
import { MinariSink } from '../../src/export/minari/sink.js';
import { convertDataset } from '../../src/pipeline/convert.js';
import { cli, query, tmpDir } from '../helpers/dataset.js';
import { EPISODES, extrasMeta, LATENT, simulate, write } from '../helpers/extras.js';
import { writeForeignDataset } from '../helpers/lerobot-foreign.js';
import { py } from './python.js';

/** Python: one episode's trajforge sidecar arrays, found by its meta/trajforge_episodes.jsonl line as the README documents. */
const EPISODE_NPZ = `
import json, sys, numpy as np
def episode(dataset, e):
    line = json.loads(open(f'{dataset}/meta/trajforge_episodes.jsonl').read().splitlines()[e])
    n = line['extras_file']
    d = np.load(f'{dataset}/meta/trajforge_episodes/chunk-{n // 1000:03d}/file-{n % 1000:03d}.npz')
    p = f'episode_{e:06d}/'
    return {k[len(p):]: d[k] for k in d.files if k.startswith(p)}
`;

/** The exporters' files read by the Python libraries users load them with: numpy and h5py. */
describe('numpy and h5py read the LeRobot, Minari and DreamerV3 files of one run', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'three');
    // Lossless video, so converting the LeRobot dataset gives back exactly the rendered images.
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,minari,dreamer', '--codec', 'lossless', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('Minari (h5py): metadata with double-encoded spaces and Infinity, HDF5 episodes with T+1 observations', () => {
    const base = join(root, 'minari', 'trajforge', 'pushcube-v1', 'data');
    const out = py(
      `
import h5py, json, sys
meta = json.load(open(sys.argv[1] + '/metadata.json'))
obs = json.loads(meta['observation_space'])
act = json.loads(meta['action_space'])
f = h5py.File(sys.argv[1] + '/main_data.hdf5', 'r')
eps = []
for i in range(meta['total_episodes']):
    g = f['episode_%d' % i]
    eps.append({'attrs': {k: int(v) for k, v in g.attrs.items()}, 'state': g['observations/state'][()].tolist(), 'image': list(g['observations/image_top'].shape),
                'actions': g['actions'][()].tolist(), 'rewards': g['rewards'][()].tolist(), 'term': g['terminations'][()].astype(int).tolist(),
                'trunc': g['truncations'][()].astype(int).tolist(), 'success': g['infos/success'][()].astype(int).tolist()})
print(json.dumps({'meta': {k: v for k, v in meta.items() if not k.endswith('_space')}, 'obs_type': obs['type'], 'state_low': str(obs['subspaces']['state']['low'][0]), 'act': act, 'eps': eps}))`,
      base,
    ) as { meta: Record<string, unknown>; obs_type: string; state_low: string; act: { type: string; shape: number[] }; eps: { attrs: Record<string, number>; state: number[][]; image: number[]; actions: number[][]; rewards: number[]; term: number[]; trunc: number[]; success: number[] }[] };
    expect(out.meta).toMatchObject({ dataset_id: 'trajforge/pushcube-v1', minari_version: '0.5.3', data_format: 'hdf5', total_episodes: 3, jpeg_encoding: false });
    expect(out.obs_type).toBe('Dict');
    expect(out.state_low).toBe('-inf');
    expect(out.act).toMatchObject({ type: 'Box', shape: [2] });
    for (const [i, e] of out.eps.entries()) {
      const T = e.attrs.total_steps!;
      expect(e.attrs.id).toBe(i);
      expect(e.state).toHaveLength(T + 1);
      expect(e.image).toEqual([T + 1, 64, 64, 3]);
      expect(e.actions).toHaveLength(T);
      expect(e.rewards).toHaveLength(T);
      expect(e.term[T - 1]).toBe(1);
      expect(e.success[T - 1]).toBe(1);
    }
  });

  it('DreamerV3 (numpy): official names, dtypes and step semantics; same values as LeRobot (DuckDB) and Minari (h5py)', async () => {
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^\d{8}T\d{6}F\d{6}-[0-9A-Za-z]{22}-0{22}-\d+\.npz$/);
    const arrays = py(
      `
import json, sys, numpy as np
out = []
for f in sys.argv[1:]:
    d = np.load(f)
    out.append({k: {"dtype": str(d[k].dtype), "shape": list(d[k].shape), "data": d[k].tolist() if d[k].size < 5000 else None} for k in d.files})
print(json.dumps(out))`,
      ...files.map((f) => join(replay, f)),
    ) as Record<string, { dtype: string; shape: number[]; data: unknown }>[];
    const minari = py(
      `
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
print(json.dumps([{'s': f['episode_%d/observations/state' % i][()].tolist(), 'a': f['episode_%d/actions' % i][()].tolist(), 'r': f['episode_%d/rewards' % i][()].tolist()} for i in range(3)]))`,
      join(root, 'minari/trajforge/pushcube-v1/data/main_data.hdf5'),
    ) as { s: number[][]; a: number[][]; r: number[] }[];
    const rows = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    for (const [e, a] of arrays.entries()) {
      const L = Number(files[e]!.split('-').pop()!.replace('.npz', ''));
      expect(a.image).toMatchObject({ dtype: 'uint8', shape: [L, 64, 64, 3] });
      expect(a.state).toMatchObject({ dtype: 'float32', shape: [L, 12] });
      expect(a.action).toMatchObject({ dtype: 'float32', shape: [L, 2] });
      expect(a.reward).toMatchObject({ dtype: 'float32', shape: [L] });
      expect(a.stepid).toMatchObject({ dtype: 'uint8', shape: [L, 20] });
      expect(a.depth_top).toMatchObject({ dtype: 'float32', shape: [L, 64, 64] });
      expect(a.segmentation_top).toMatchObject({ dtype: 'uint16', shape: [L, 64, 64] });
      const first = a.is_first!.data as boolean[];
      const last = a.is_last!.data as boolean[];
      expect(first[0]).toBe(true);
      expect(first.slice(1).every((x) => !x)).toBe(true);
      expect(last[L - 1]).toBe(true);
      expect((a.reward!.data as number[])[0]).toBe(0);
      expect((a.action!.data as number[][])[L - 1]).toEqual([0, 0]);
      expect((a.is_terminal!.data as boolean[])[L - 1]).toBe(true); // the expert succeeds: terminated
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      expect((a.state!.data as number[][]).slice(0, T)).toEqual(ep.map((r) => r.s));
      expect((a.action!.data as number[][]).slice(0, T)).toEqual(ep.map((r) => r.a));
      expect((a.reward!.data as number[]).slice(1)).toEqual(ep.map((r) => r.r));
      expect(minari[e]!.s.slice(0, T)).toEqual(ep.map((r) => r.s));
      expect(minari[e]!.a).toEqual(ep.map((r) => r.a));
      expect(minari[e]!.r).toEqual(ep.map((r) => r.r));
      expect(a.state!.data).toEqual(minari[e]!.s); // both hold the T + 1 observations
    }
  });

  it('LeRobot (numpy): camera intrinsics and per-frame poses in meta/trajforge_episodes/chunk-*/file-*.npz', () => {
    const script = `${EPISODE_NPZ}
out = []
for e in range(3):
    d = episode(sys.argv[1], e)
    out.append({'K': d['camera/top/K'].tolist(), 'pos': d['camera/top/positions'].tolist(), 'q': d['camera/top/quaternions'].shape[1], 'w2c': list(d['camera/top/world_to_camera'].shape), 'final_obs': list(d['final_obs'].shape), 'rgb': list(d['final/top.rgb'].shape), 'cube': list(d['body/3/positions'].shape)})
print(json.dumps(out))`;
    const npz = [join(root, 'lerobot')];
    const tracks = py(script, ...npz) as { K: number[][]; pos: number[][]; q: number; w2c: number[]; final_obs: number[]; rgb: number[]; cube: number[] }[];
    const lengths = readdirSync(join(root, 'dreamer', 'replay')).sort().map((f) => Number(f.split('-').pop()!.replace('.npz', '')) - 1);
    tracks.forEach((t, i) => {
      expect(t.K[0]![0]).toBeCloseTo(32 / Math.tan((50 * Math.PI) / 360), 9);
      expect(t.K[0]![2]).toBe(32);
      expect(t.pos).toHaveLength(lengths[i]! + 1); // every frame and the final observation
      expect(t.q).toBe(4);
      expect(t.w2c).toEqual([4, 4]);
      expect(t.final_obs).toEqual([12]);
      expect(t.rgb).toEqual([64, 64, 3]);
      expect(t.cube).toEqual([lengths[i]! + 1, 3]);
    });
    expect(tracks[0]!.pos[0]).not.toEqual(tracks[1]!.pos[0]);
  });

  it('convert to Minari (h5py): the same arrays as writing Minari during generation', async () => {
    const out = join(root, 'conv-minari');
    expect((await cli(['convert', join(root, 'lerobot'), '--to', 'minari', '--out', out])).code).toBe(0);
    const script = `
import h5py, sys, numpy as np
a = h5py.File(sys.argv[1], 'r'); b = h5py.File(sys.argv[2], 'r')
def walk(g, h, path):
    assert sorted(g.keys()) == sorted(h.keys()), path
    for k in g.keys():
        if isinstance(g[k], h5py.Group): walk(g[k], h[k], path + '/' + k)
        else: assert np.array_equal(g[k][()], h[k][()]), path + '/' + k
walk(a, b, '')
print('"ok"')`;
    const rel = 'trajforge/pushcube-v1/data/main_data.hdf5';
    expect(py(script, join(out, rel), join(root, 'minari', rel))).toBe('ok');
  }, 60_000);
});

describe('numpy and h5py read the extra float features (world-model latents)', () => {
  let root: string;
  let dir: string;
  let eps: EpisodeData[];
  beforeAll(async () => {
    root = tmpDir('tf-extras-');
    dir = join(root, 'lerobot');
    eps = await simulate();
    await write(new LeRobotSink(), dir, extrasMeta(), eps);
  }, 120_000);

  it('LeRobot final values in the episode npz (numpy)', () => {
    const out = py(`${EPISODE_NPZ}
print(json.dumps([{'final': d['final_extra/observation.latent'].tolist(), 'keys': sorted(k for k in d if k.startswith('final_extra/'))} for d in (episode(sys.argv[1], e) for e in range(int(sys.argv[2])))]))`, dir, String(EPISODES)) as { final: number[]; keys: string[] }[];
    out.forEach((o, e) => {
      expect(o.keys).toEqual(['final_extra/observation.latent']); // wm.score has no final value
      expect(o.final).toEqual(Array.from(eps[e]!.extras![0]!.final!));
    });
  });

  it('convert path: DreamerV3 npz carries each extra as an array with T + 1 rows (numpy)', async () => {
    const out = join(root, 'dreamer');
    await write(new DreamerSink(), out, datasetMeta(dir), readLeRobotEpisodes(dir));
    const replay = join(out, 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(EPISODES);
    const arrays = py(`
import json, sys, numpy as np
out = []
for f in sys.argv[1:]:
    d = np.load(f)
    z = d['observation_latent']; s = d['wm_score']
    out.append({'z': z.tolist(), 'zt': str(z.dtype), 's': [None if np.isnan(x) else float(x) for x in s[:, 0]], 'st': str(s.dtype), 'shape': list(s.shape), 'state': list(d['state'].shape)})
print(json.dumps(out))`, ...files.map((f) => join(replay, f))) as { z: number[][]; zt: string; s: (number | null)[]; st: string; shape: number[]; state: number[] }[];
    arrays.forEach((a, e) => {
      const ep = eps[e]!;
      const T = ep.length;
      expect(a.zt).toBe('float32');
      expect(a.st).toBe('float32');
      expect(a.shape).toEqual([T + 1, 1]);
      expect(a.state).toEqual([T + 1, 12]);
      expect(a.z).toHaveLength(T + 1);
      expect(a.z[3]).toEqual(Array.from(ep.extras![0]!.data.subarray(3 * LATENT, 4 * LATENT)));
      expect(a.z[T]).toEqual(Array.from(ep.extras![0]!.final!));
      expect(a.s.slice(0, T)).toEqual(Array.from(ep.extras![1]!.data));
      expect(a.s[T]).toBeNull(); // no final value given: NaN, never a made-up number
    });
  });

  it('convert path: Minari declares each extra as an observation subspace with T + 1 rows (h5py)', async () => {
    const out = join(root, 'minari');
    await write(new MinariSink(), out, datasetMeta(dir), readLeRobotEpisodes(dir));
    const base = join(out, 'trajforge/pushcube-v1/data');
    const r = py(`

import h5py, json, sys, numpy as np
meta = json.load(open(sys.argv[1] + '/metadata.json'))
obs = json.loads(meta['observation_space'])
f = h5py.File(sys.argv[1] + '/main_data.hdf5', 'r')
eps = []
for i in range(meta['total_episodes']):
    g = f['episode_%d/observations' % i]
    eps.append({'z': g['observation_latent'][()].tolist(), 'dtype': str(g['observation_latent'].dtype), 'slast': bool(np.isnan(g['wm_score'][()][-1, 0])), 'state': list(g['state'].shape)})
print(json.dumps({'latent_space': obs['subspaces']['observation_latent']['shape'], 'score_space': obs['subspaces']['wm_score']['shape'], 'trajforge': meta['trajforge'], 'eps': eps}))`, base) as { latent_space: number[]; score_space: number[]; trajforge: Record<string, unknown>; eps: { z: number[][]; dtype: string; slast: boolean; state: number[] }[] };
    expect(r.latent_space).toEqual([LATENT]);
    expect(r.score_space).toEqual([1]);
    expect(r.trajforge.source).toEqual({ kind: 'world-model', model_id: 'wm-test-1', model: 'linear-baseline' });
    r.eps.forEach((g, e) => {
      const ep = eps[e]!;
      expect(g.dtype).toBe('float32');
      expect(g.z).toHaveLength(ep.length + 1);
      expect(g.state).toEqual([ep.length + 1, 12]);
      expect(g.z[0]).toEqual(Array.from(ep.extras![0]!.data.subarray(0, LATENT)));
      expect(g.z[ep.length]).toEqual(Array.from(ep.extras![0]!.final!));
      expect(g.slast).toBe(true);
    });
  });
});

/** Another tool's LeRobot dataset (no trajforge record) converted, read by h5py and numpy. */
describe("numpy and h5py read another tool's LeRobot dataset after convert", () => {
  it('Minari: an unbounded action box, T − 1 actions and T observations an episode, truncated at its end; DreamerV3: the same rows', async () => {
    const root = tmpDir('tf-interop-foreign-');
    const fx = writeForeignDataset(join(root, 'so100'), { lengths: [6, 9], cameras: [{ name: 'front', width: 32, height: 24, codec: 'h264' }] });
    const s = await convertDataset({ src: fx.dir, to: 'minari,dreamer', out: join(root, 'out') });
    expect(s.episodes).toBe(2);
    const r = py(
      `
import h5py, json, sys
meta = json.load(open(sys.argv[1] + '/metadata.json'))
act = json.loads(meta['action_space'])
f = h5py.File(sys.argv[1] + '/main_data.hdf5', 'r')
eps = [{'a': f['episode_%d/actions' % i][()].tolist(), 's': f['episode_%d/observations/state' % i][()].tolist(), 'img': list(f['episode_%d/observations/image_front' % i].shape), 'trunc': f['episode_%d/truncations' % i][()].astype(int).tolist()} for i in range(meta['total_episodes'])]
print(json.dumps({'act': {'type': act['type'], 'shape': act['shape'], 'low': str(act['low'][0])}, 'id': meta['dataset_id'], 'eps': eps}))`,
      join(root, 'out', 'minari', 'trajforge', 'so100_follower-v0', 'data'),
    ) as { act: { type: string; shape: number[]; low: string }; id: string; eps: { a: number[][]; s: number[][]; img: number[]; trunc: number[] }[] };
    expect(r.id).toBe('trajforge/so100_follower-v0');
    expect(r.act).toEqual({ type: 'Box', shape: [6], low: '-inf' });
    const replay = join(root, 'out', 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    const npz = files.map((f) => py(`import json, sys, numpy as np\nd = np.load(sys.argv[1])\nprint(json.dumps({'action': d['action'].tolist(), 'is_last': d['is_last'].astype(int).tolist(), 'is_terminal': d['is_terminal'].astype(int).tolist()}))`, join(replay, f)) as { action: number[][]; is_last: number[]; is_terminal: number[] });
    [6, 9].forEach((rows, e) => {
      const T = rows - 1;
      const g = r.eps[e]!;
      expect(g.a).toEqual(Array.from({ length: T }, (_, t) => fx.action[e]!.slice(t * 6, t * 6 + 6)));
      expect(g.s).toEqual(Array.from({ length: T + 1 }, (_, t) => fx.state[e]!.slice(t * 6, t * 6 + 6)));
      expect(g.img).toEqual([T + 1, 24, 32, 3]);
      expect(g.trunc).toEqual(Array.from({ length: T }, (_, t) => (t === T - 1 ? 1 : 0)));
      // DreamerV3's step t holds the action taken at observation t; the last observation's is zero.
      expect(npz[e]!.action.slice(0, T)).toEqual(g.a);
      expect(npz[e]!.action[T]).toEqual([0, 0, 0, 0, 0, 0]);
      expect(npz[e]!.is_last.at(-1)).toBe(1);
      expect(npz[e]!.is_terminal.at(-1)).toBe(0);
    });
  }, 120_000);
});
