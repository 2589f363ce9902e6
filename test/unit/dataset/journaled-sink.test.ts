/**
 * A format written against JournaledSink gets resume and atomic commit without code of its own:
 * this CSV sink implements only its encoding, where its files go and its index file, and an
 * interrupted, damaged run resumes to exactly what an uninterrupted run writes.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { datasetMeta, type DatasetMeta } from '../../../src/dataset/meta.js';
import { JournaledSink, dirBytes, type JournalEntry } from '../../../src/dataset/sink.js';
import { episodeSeed } from '../../../src/episode/rollout.js';
import { createRunner } from '../../../src/episode/runner.js';
import { DEFAULT_LAYOUT } from '../../../src/export/lerobot/format.js';
import { openOutput } from '../../../src/output/folder.js';
import { datasetDigest } from '../../helpers/digest.js';

/** One CSV per episode (step, reward, actions...) and an index of the episodes. */
class CsvSink extends JournaledSink<string> {
  protected readonly progress = '.trajforge-csv';
  entries(): string[] {
    return ['episodes', 'index\\.csv'];
  }
  encode(ep: EpisodeData): string {
    const rows = Array.from({ length: ep.length }, (_, t) => [t, ep.rewards[t], ...ep.actions.subarray(t * ep.actionDim, (t + 1) * ep.actionDim)].join(','));
    return `${['step', 'reward', ...Array.from({ length: ep.actionDim }, (_, i) => `a${i}`)].join(',')}\n${rows.join('\n')}\n`;
  }
  protected commit(csv: string, _ep: EpisodeData, position: number) {
    return this.commitFiles([{ path: `episodes/${String(position).padStart(4, '0')}.csv`, data: csv }]);
  }
  protected finish(lines: readonly JournalEntry[]): number {
    this.commitFiles([{ path: 'index.csv', data: `episode,seed,length,success\n${lines.map((l) => [l.episode, l.seed, l.length, l.success].join(',')).join('\n')}\n` }]);
    return dirBytes(this.dir);
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'tf-csv-sink-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const episodes: EpisodeData[] = [];
let meta: DatasetMeta;

beforeAll(async () => {
  const env = loadEnv('PushCube-v1');
  meta = datasetMeta(env, { cameras: [], run: { seed: 3, episodes: 6, shard: { index: 0, count: 1 }, policy: { kind: 'noise', noise: 0.3, epsilon: 0 }, codec: 'h264', gop: 2, checkpoint: 2, layout: DEFAULT_LAYOUT } });
  const runner = await createRunner({ config: env.config, source: env.source, policy: { kind: 'noise', noise: 0.3, epsilon: 0 }, cameras: [], supersample: 1 });
  for (let k = 0; k < 6; k++) episodes.push(await runner.run(k, episodeSeed(3, k)));
  await runner.close();
});

/** Writes episodes [from, to) the way generate does: inside the output folder it holds. */
async function run(dir: string, from: number, to: number, resume: boolean, finish: boolean): Promise<string[]> {
  const sink = new CsvSink();
  const output = openOutput(dir, { kind: 'dataset', command: 'test', mode: resume ? 'resume' : 'new', entries: sink.entries(), accepts: ['resume'], resumable: true });
  const opened = await sink.open(dir, meta, { resume });
  expect(opened.committed).toBe(from);
  for (const ep of episodes.slice(from, to)) await sink.write(ep);
  if (finish) {
    const summary = await sink.close();
    expect(summary).toMatchObject({ episodes: 6, frames: episodes.reduce((n, e) => n + e.length + 1, 0), successes: episodes.filter((e) => e.success[e.length - 1]).length });
    output.close();
  } else output.abandon();
  return opened.notices ?? [];
}

describe('a sink written against JournaledSink', () => {
  it('writes its files, then removes its journal', async () => {
    const dir = join(tmp, 'whole');
    await run(dir, 0, 6, false, true);
    expect(readdirSync(dir).sort()).toEqual(['.trajforge-output.json', 'episodes', 'index.csv']);
    expect(readdirSync(join(dir, 'episodes'))).toHaveLength(6);
    expect(readFileSync(join(dir, 'index.csv'), 'utf8').trim().split('\n')).toHaveLength(7);
  });

  it('resumes an interrupted run to the same bytes', async () => {
    const dir = join(tmp, 'resumed');
    await run(dir, 0, 4, false, false);
    expect(await run(dir, 4, 6, true, true)).toEqual([]);
    expect(datasetDigest(dir)).toEqual(datasetDigest(join(tmp, 'whole')));
  });

  it('discards a damaged episode and what follows, with a notice, then completes', async () => {
    const dir = join(tmp, 'damaged');
    await run(dir, 0, 4, false, false);
    truncateSync(join(dir, 'episodes', '0002.csv'), 5);
    const notices = await run(dir, 2, 6, true, true);
    expect(notices).toEqual([expect.stringMatching(/^discarded episode 2 \(episodes\/0002\.csv truncated: 5 of \d+ bytes\); redoing episodes 2-3$/)]);
    expect(datasetDigest(dir)).toEqual(datasetDigest(join(tmp, 'whole')));
  });

  it('treats a torn journal line as the end of the finished work', async () => {
    const dir = join(tmp, 'torn');
    await run(dir, 0, 3, false, false);
    const journal = join(dir, '.trajforge-csv', 'episodes.jsonl');
    writeFileSync(journal, readFileSync(journal, 'utf8').slice(0, -7));
    const notices = await run(dir, 2, 6, true, true);
    expect(notices).toEqual([expect.stringMatching(/^discarded episode 2 \(episodes\.jsonl line 3 torn: \d+ bytes without a newline\); redoing episode 2$/)]);
    expect(datasetDigest(dir)).toEqual(datasetDigest(join(tmp, 'whole')));
  });
});
