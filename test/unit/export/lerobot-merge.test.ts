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
import { RowCursor } from '../../../src/export/lerobot/reader.js';
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

  it('a differing run setting is named with both values', async () => {
    const dir = copy('gop');
    const file = join(dir, 'meta', 'trajforge.json');
    const side = JSON.parse(readFileSync(file, 'utf8'));
    side.run.gop += 1;
    writeFileSync(file, JSON.stringify(side));
    const out = join(root, 'gop-out');
    const e = await refusal(mergeLeRobot([join(root, 's0'), dir], out));
    expect(e.message).toMatch(new RegExp(`^${dir}: run setting gop \\(meta/trajforge.json run.gop\\) is ${side.run.gop}, ${join(root, 's0')} has ${side.run.gop - 1}`));
    expect(existsSync(out)).toBe(false);
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
