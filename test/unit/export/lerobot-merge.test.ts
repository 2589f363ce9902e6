/**
 * merge and addFeature name the input at fault: the same dataset given twice, the run setting that
 * differs, a damaged episodes jsonl line or data parquet, and nothing is written at --out.
 */
import { cpSync, existsSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { addFeatureToLeRobot } from '../../../src/export/lerobot/extend.js';
import { mergeLeRobot } from '../../../src/export/lerobot/merge.js';
import { readEpisodesMeta, RowCursor, validateLeRobot } from '../../../src/export/lerobot/reader.js';
import { readArrowBatches } from '../../../src/dataset/parquet.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { rejection as refusal } from '../../helpers/rejection.js';

let root: string;
beforeAll(async () => {
  root = tmpDir('tf-merge-');
  for (const [shard, out] of [['0/2', 's0'], ['1/2', 's1']]) {
    const g = await cli(['generate', 'PushCube-v1', '--episodes', '4', '--shard', shard!, '--out', out!, '--workers', '0', '--channels', 'rgb'], root);
    expect(g.code, g.err).toBe(0);
  }
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));


function copy(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(root, 's1'), dir, { recursive: true });
  return dir;
}

describe('merge names the input at fault', () => {
  it('the same dataset twice names it as given twice', async () => {
    const out = join(root, 'twice');
    const e = await refusal(mergeLeRobot([join(root, 's0'), join(root, 's0')], out));
    expect(e.code).toBe('E_DATASET_INVALID');
    expect(e.message).toContain(`appears in both ${join(root, 's0')} and ${join(root, 's0')}, which are the same dataset given twice`);
    expect(existsSync(out)).toBe(false);
  });

  it('a shard given with another run setting is named with both values', async () => {
    const dir = copy('gop');
    const file = join(dir, 'meta', 'trajforge.json');
    const side = JSON.parse(readFileSync(file, 'utf8'));
    side.run.gop += 1;
    writeFileSync(file, JSON.stringify(side));
    const out = join(root, 'gop-out');
    const e = await refusal(mergeLeRobot([join(root, 's0'), dir], out));
    expect(e.message).toContain(`shard 1 of 2 missing from the run of ${join(root, 's0')}`);
    expect(e.message).toContain(`${dir} is shard 1 of 2 but of another run: run setting gop (meta/trajforge.json run.gop) is ${side.run.gop} there, ${side.run.gop - 1} here`);
    expect(existsSync(out)).toBe(false);
  });

  it('a different environment config is named with both hashes', async () => {
    const dir = copy('hash');
    const file = join(dir, 'meta', 'trajforge.json');
    const side = JSON.parse(readFileSync(file, 'utf8'));
    side.config_hash = 'f'.repeat(64);
    writeFileSync(file, JSON.stringify(side));
    const e = await refusal(mergeLeRobot([join(root, 's0'), dir], join(root, 'hash-out')));
    expect(e.message).toMatch(/the config hash \(meta\/trajforge.json config_hash\) is "f{64}", .* has "[0-9a-f]{64}"; merge only datasets of one environment config/);
  });

  it('rows that end early name the dataset and its last data file', async () => {
    const dir = join(root, 's0');
    const file = join(dir, 'data', 'chunk-000', 'file-000.parquet');
    const cursor = new RowCursor([file], dir);
    const rows = await cursor.take(0, 1);
    expect(rows).toHaveLength(1);
    const e = await refusal(cursor.take(0, 1_000_000));
    expect(e.message).toMatch(new RegExp(`^${dir}: data/chunk-000/file-000.parquet, the last data file, ends at row \\d+, but meta/episodes needs row \\d+`));
  });
});

describe('addFeature and readArrowBatches name the damaged file', () => {
  it('a garbled episodes jsonl line is named by file and line', async () => {
    const dir = copy('jsonl');
    const file = join(dir, 'meta', 'trajforge_episodes.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = `{${lines[1]!.slice(3)}`;
    writeFileSync(file, lines.join('\n'));
    const e = await refusal(addFeatureToLeRobot(dir, join(root, 'jsonl-out'), { key: 'observation.extra', dim: 1 }, () => ({ data: new Float32Array(0) })));
    expect(e.code).toBe('E_DATASET_INVALID');
    expect(e.message).toContain(`${file}:2: not a JSON object`);
    expect(existsSync(join(root, 'jsonl-out'))).toBe(false);
  });

  it('a truncated data parquet read through parquet-wasm is E_DATASET_INVALID naming it', () => {
    const dir = copy('arrow');
    const file = join(dir, 'data', 'chunk-000', 'file-000.parquet');
    truncateSync(file, Math.floor(statSync(file).size / 2));
    let e: unknown;
    try {
      readArrowBatches(file);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(TrajforgeError);
    expect((e as TrajforgeError).code).toBe('E_DATASET_INVALID');
    expect((e as TrajforgeError).message).toContain(`${file}: not a readable parquet file`);
  });
});

describe('merge completeness and stats', () => {
  it('refuses when a shard of the run is missing', async () => {
    const out = join(root, 'one-of-two');
    const e = await refusal(mergeLeRobot([join(root, 's1')], out));
    expect(e.code).toBe('E_DATASET_INVALID');
    expect(e.message).toContain('shard 0 of 2 missing');
    expect(existsSync(out)).toBe(false);
  });

  it('merged shards have the stats of a single run, image channels included, at the default checkpoint', async () => {
    const args = ['PushCube-v1', '--episodes', '6', '--workers', '0', '--channels', 'rgb,depth,segmentation', '--codec', 'lossless'];
    for (const [shard, out] of [['0/3', 'd0'], ['1/3', 'd1'], ['2/3', 'd2']]) {
      const g = await cli(['generate', ...args, '--shard', shard!, '--out', out!], root);
      expect(g.code, g.err).toBe(0);
    }
    const single = await cli(['generate', ...args, '--out', 'dsingle'], root);
    expect(single.code, single.err).toBe(0);
    await mergeLeRobot(['d0', 'd1', 'd2'].map((d) => join(root, d)), join(root, 'dmerged'));
    const stats = (d: string) => readFileSync(join(root, d, 'meta', 'stats.json'), 'utf8');
    expect(JSON.parse(stats('dmerged'))['observation.depth.top']).toBeDefined();
    expect(stats('dmerged')).toBe(stats('dsingle'));
  }, 120_000);
});

describe('merge of runs with different seeds, policies and codecs', () => {
  it('concatenates the runs, re-encodes the other codec, validates and keeps each episode\'s provenance', async () => {
    const runs = [
      ['mix-a', ['--episodes', '3', '--seed', '5', '--policy', 'random', '--codec', 'h264']],
      ['mix-b', ['--episodes', '2', '--seed', '11', '--policy', 'expert', '--codec', 'lossless']],
    ] as const;
    for (const [out, args] of runs) {
      const g = await cli(['generate', 'PushCube-v1', ...args, '--out', out, '--workers', '0', '--channels', 'rgb'], root);
      expect(g.code, g.err).toBe(0);
    }
    const m = await cli(['merge', 'mix-a', 'mix-b', '--out', 'mixed'], root);
    expect(m.code, m.err).toBe(0);
    const dir = join(root, 'mixed');
    expect(await validateLeRobot(dir, { deep: true })).toEqual([]);
    const side = JSON.parse(readFileSync(join(dir, 'meta', 'trajforge.json'), 'utf8'));
    expect(side.origins.map((o: { datasets: string[]; episodes: number; run: { seed: number; policy: { kind: string }; codec: string } }) => [o.datasets, o.episodes, o.run.seed, o.run.policy.kind, o.run.codec])).toEqual([
      [['mix-a'], 3, 5, 'random', 'h264'],
      [['mix-b'], 2, 11, 'expert', 'lossless'],
    ]);
    expect(side.run.episodes).toBe(5);
    const lines = readFileSync(join(dir, 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const seeds = (name: string) => readFileSync(join(root, name, 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).seed);
    expect(lines.map((l) => [l.origin, l.source_episode, l.seed])).toEqual([
      ...seeds('mix-a').map((seed: number, k: number) => [0, k, seed]),
      ...seeds('mix-b').map((seed: number, k: number) => [1, k, seed]),
    ]);
    const rows = await readEpisodesMeta(dir);
    expect(rows.map((r) => Number(r.origin))).toEqual([0, 0, 0, 1, 1]);
    // The lossless run is re-encoded into the first run's codec, as info.json declares.
    const info = JSON.parse(readFileSync(join(dir, 'meta', 'info.json'), 'utf8'));
    expect(info.features['observation.images.top'].info['video.codec']).toBe('h264');
    expect(info.features['observation.images.top'].info['video.pix_fmt']).toBe('yuv420p');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('merged from 2 runs');
    // Every episode still re-simulates from its own seed and actions to its stored states.
    const r = await cli(['replay', 'mixed', '--out', 'mixed-replay', '--channels', 'rgb'], root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('replayed 5 episodes');

    // A merged dataset merges again: with a third run its runs stay apart (3 origins, in order),
    // and a run it already holds is refused rather than copied twice.
    const c = await cli(['generate', 'PushCube-v1', '--episodes', '2', '--seed', '17', '--out', 'mix-c', '--workers', '0', '--channels', 'rgb'], root);
    expect(c.code, c.err).toBe(0);
    const again = await cli(['merge', 'mixed', 'mix-c', '--out', 'mixed-again'], root);
    expect(again.code, again.err).toBe(0);
    const side2 = JSON.parse(readFileSync(join(root, 'mixed-again', 'meta', 'trajforge.json'), 'utf8'));
    expect(side2.origins.map((o: { run: { seed: number }; episodes: number }) => [o.run.seed, o.episodes])).toEqual([[5, 3], [11, 2], [17, 2]]);
    const lines2 = readFileSync(join(root, 'mixed-again', 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines2.map((l) => [l.origin, l.source_episode])).toEqual([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 0], [2, 1]]);
    expect(await validateLeRobot(join(root, 'mixed-again'), { deep: true })).toEqual([]);
    const twice = await cli(['merge', 'mixed', 'mix-a', '--out', 'mixed-twice'], root);
    expect(twice.code).toBe(2);
    expect(twice.err).toContain(`${join(root, 'mix-a')} holds a run that ${join(root, 'mixed')} holds too`);
  }, 180_000);
});

