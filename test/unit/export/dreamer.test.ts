import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../../helpers/dataset.js';
import { readNpz, rows, values } from '../../helpers/readers.js';

describe('--format lerobot,dreamer: one simulation, two datasets', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'both');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,dreamer', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('writes DreamerV3 replay chunks that npyjs loads, with the official names and step semantics', () => {
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^\d{8}T\d{6}F\d{6}-[0-9A-Za-z]{22}-0{22}-\d+\.npz$/);
    const uuids = new Set<string>();
    for (const f of files) {
      const a = readNpz(join(replay, f));
      const L = Number(f.split('-').pop()!.replace('.npz', ''));
      const kind = (k: string) => ({ dtype: a[k]!.dtype, shape: a[k]!.shape });
      expect(kind('image')).toEqual({ dtype: 'u1', shape: [L, 64, 64, 3] });
      expect(kind('state')).toEqual({ dtype: 'f4', shape: [L, 12] });
      expect(kind('action')).toEqual({ dtype: 'f4', shape: [L, 2] });
      expect(kind('reward')).toEqual({ dtype: 'f4', shape: [L] });
      expect(kind('stepid')).toEqual({ dtype: 'u1', shape: [L, 20] });
      expect(kind('depth_top')).toEqual({ dtype: 'f4', shape: [L, 64, 64] });
      expect(kind('segmentation_top')).toEqual({ dtype: 'u2', shape: [L, 64, 64] });
      for (const k of ['is_first', 'is_last', 'is_terminal']) expect(kind(k)).toEqual({ dtype: 'b1', shape: [L] });
      const step = (t: number) => Array.from({ length: L }, (_, i) => (i === t ? 1 : 0));
      expect(values(a.is_first!.data)).toEqual(step(0));
      expect(values(a.is_last!.data)).toEqual(step(L - 1));
      expect(values(a.is_terminal!.data)).toEqual(step(L - 1)); // the expert succeeds: terminated
      expect(values(a.reward!.data)[0]).toBe(0);
      expect(rows(a.action!.data, 2)[L - 1]).toEqual([0, 0]);
      // stepid: one 16-byte uuid per chunk, then the big-endian step index.
      const ids = rows(a.stepid!.data, 20);
      ids.forEach((id, t) => {
        expect(id.slice(0, 16)).toEqual(ids[0]!.slice(0, 16));
        expect(Buffer.from(id.slice(16)).readUInt32BE(0)).toBe(t);
      });
      uuids.add(ids[0]!.slice(0, 16).join(','));
    }
    expect(uuids.size).toBe(3);
  });

  it('holds the same states, actions and rewards as the LeRobot dataset', async () => {
    const replay = join(root, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    const rowsLe = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    files.forEach((f, e) => {
      const a = readNpz(join(replay, f));
      const ep = rowsLe.filter((r) => Number(r.e) === e);
      const T = ep.length;
      expect(rows(a.state!.data, 12).slice(0, T)).toEqual(ep.map((r) => r.s));
      expect(rows(a.action!.data, 2).slice(0, T)).toEqual(ep.map((r) => r.a));
      expect(values(a.reward!.data).slice(1)).toEqual(ep.map((r) => r.r));
    });
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
