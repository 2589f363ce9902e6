import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../../helpers/dataset.js';

/** Debian's python3-h5py and python3-numpy (installed by .ci/run) are the independent readers. */
function py(script: string, ...args: string[]): unknown {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, ...args], { maxBuffer: 1 << 28 }).toString());
}

describe('--format lerobot,minari,dreamer: consistent contents across formats', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'three');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,minari,dreamer', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('Minari: metadata with double-encoded spaces and Infinity, HDF5 episodes with T+1 observations', () => {
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
    }
  });

  it('states, actions and rewards agree between LeRobot, Minari and DreamerV3', async () => {
    const rows = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    const minari = py(
      `
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
print(json.dumps([{'s': f['episode_%d/observations/state' % i][()].tolist(), 'a': f['episode_%d/actions' % i][()].tolist(), 'r': f['episode_%d/rewards' % i][()].tolist()} for i in range(3)]))`,
      join(root, 'minari/trajforge/pushcube-v1/data/main_data.hdf5'),
    ) as { s: number[][]; a: number[][]; r: number[] }[];
    const replay = join(root, 'dreamer', 'replay');
    const dreamer = py(
      `
import json, sys, numpy as np
print(json.dumps([{'s': np.load(f)['state'].tolist(), 'a': np.load(f)['action'].tolist(), 'r': np.load(f)['reward'].tolist()} for f in sys.argv[1:]]))`,
      ...readdirSync(replay).sort().map((f) => join(replay, f)),
    ) as { s: number[][]; a: number[][]; r: number[] }[];
    for (let e = 0; e < 3; e++) {
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      expect(minari[e]!.s.slice(0, T)).toEqual(ep.map((r) => r.s));
      expect(minari[e]!.a).toEqual(ep.map((r) => r.a));
      expect(minari[e]!.r).toEqual(ep.map((r) => r.r));
      expect(dreamer[e]!.s).toEqual(minari[e]!.s); // both hold the T + 1 observations
      expect(dreamer[e]!.a.slice(0, T)).toEqual(minari[e]!.a);
      expect(dreamer[e]!.r.slice(1)).toEqual(minari[e]!.r);
    }
  });
});
