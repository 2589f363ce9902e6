import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../../helpers/dataset.js';

/** Debian's python3-numpy (installed by .ci/run) is the independent npz reader. */
function numpyRead(files: string[]): Record<string, { dtype: string; shape: number[]; data: unknown }>[] {
  const script = `
import json, sys, numpy as np
out = []
for f in sys.argv[1:]:
    d = np.load(f)
    out.append({k: {"dtype": str(d[k].dtype), "shape": list(d[k].shape), "data": d[k].tolist() if d[k].size < 5000 else None} for k in d.files})
print(json.dumps(out))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, ...files], { maxBuffer: 1 << 28 }).toString());
}

describe('--format lerobot,dreamer: one simulation, two datasets', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'both');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,dreamer', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('writes DreamerV3 replay chunks that numpy loads, with the official names and step semantics', () => {
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^\d{8}T\d{6}F\d{6}-[0-9A-Za-z]{22}-0{22}-\d+\.npz$/);
    const arrays = numpyRead(files.map((f) => join(replay, f)));
    for (const [i, a] of arrays.entries()) {
      const L = Number(files[i]!.split('-').pop()!.replace('.npz', ''));
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
    }
  });

  it('holds the same states, actions and rewards as the LeRobot dataset', async () => {
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    const arrays = numpyRead(files.map((f) => join(replay, f)));
    const rows = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    for (const [e, a] of arrays.entries()) {
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      expect((a.state!.data as number[][]).slice(0, T)).toEqual(ep.map((r) => r.s));
      expect((a.action!.data as number[][]).slice(0, T)).toEqual(ep.map((r) => r.a));
      expect((a.reward!.data as number[]).slice(1)).toEqual(ep.map((r) => r.r));
    }
    const meta = JSON.parse(readFileSync(join(root, 'dreamer', 'dreamer.json'), 'utf8'));
    expect(meta.episodes).toHaveLength(3);
    expect(meta.config_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is byte-identical with another worker count', async () => {
    const other = join(tmpDir(), 'w0');
    expect((await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', other, '--format', 'dreamer', '--workers', '0'])).code).toBe(0);
    const a = readdirSync(join(root, 'dreamer', 'replay')).sort();
    expect(readdirSync(join(other, 'replay')).sort()).toEqual(a);
    for (const f of a) expect(readFileSync(join(other, 'replay', f)).equals(readFileSync(join(root, 'dreamer', 'replay', f)))).toBe(true);
  });

  it('unknown formats in a list are named', async () => {
    const r = await cli(['generate', 'PushCube-v1', '--out', join(tmpDir(), 'x'), '--format', 'lerobot,minary']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown --format 'minary'; did you mean 'minari'.*known: lerobot, dreamer, minari, rlds, frames/);
  });
});
