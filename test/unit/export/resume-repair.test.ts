import { appendFileSync, cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { validateEnvConfig, type ResolvedEnv } from '../../../src/config/parse.js';
import { generateDataset, type GenerateOptions } from '../../../src/pipeline/generate.js';
import { tmpDir } from '../../helpers/dataset.js';
import { interruptedRun } from '../../helpers/generate.js';

/**
 * `--resume` after damage: each case takes a run interrupted after a few episodes, damages what
 * the dead run left (a truncated or missing file, a torn journal line, a half-renamed part), resumes
 * through the real generate path and expects the dataset an uninterrupted run writes, file by file,
 * plus a notice that names the damaged file.
 */


/** PushCube with a 16 x 16 camera and 5-step episodes: every format's files, in a fraction of a second. */
function tinyEnv(): ResolvedEnv {
  const { config } = loadEnv('PushCube-v1');
  const doc = structuredClone(config) as unknown as { cameras: { resolution: number[] }[]; task: { timeLimit: number } };
  doc.cameras[0]!.resolution = [16, 16];
  doc.task.timeLimit = 5;
  return validateEnvConfig(doc, 'tiny-push-cube.yaml');
}

const EPISODES = 6;
const CHECKPOINT = 2;
const env = tinyEnv();

function options(out: string, format: string, resume: boolean): GenerateOptions {
  return {
    env,
    out,
    episodes: EPISODES,
    seed: 3,
    workers: 0,
    format,
    policy: { kind: 'expert', noise: 0.2, epsilon: 0 },
    shard: { index: 0, count: 1 },
    resume,
    overwrite: false,
    codec: 'lossless',
    gop: 2,
    checkpoint: CHECKPOINT,
  };
}

/** A run stopped by an error after `episodes` episodes were written (what a kill leaves, minus the half-written tail). */
async function interrupted(format: string, episodes: number): Promise<string> {
  const out = join(tmpDir('tf-repair-'), 'partial');
  await interruptedRun(options(out, format, false), episodes);
  return out;
}

function files(dir: string, sub = ''): string[] {
  return readdirSync(join(dir, sub), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(dir, join(sub, e.name)) : [join(sub, e.name)]))
    .sort();
}

/**
 * HDF5 object headers (version 2) carry access/modification/change/birth times in seconds and a
 * checksum over them, and h5wasm cannot switch them off: both are zeroed, every other byte counts.
 */
function withoutHdf5Times(file: Buffer): Buffer {
  const out = Buffer.from(file);
  for (let at = out.indexOf('OHDR'); at >= 0; at = out.indexOf('OHDR', at + 4)) {
    const flags = out[at + 5]!;
    if (out[at + 4] !== 2 || !(flags & 0x20)) continue;
    out.fill(0, at + 6, at + 22);
    const sizeAt = at + 22 + (flags & 0x10 ? 4 : 0);
    const width = 1 << (flags & 3);
    const end = sizeAt + width + out.readUIntLE(sizeAt, Math.min(width, 6));
    out.fill(0, end, end + 4);
  }
  return out;
}

function expectSameFiles(actual: string, expected: string): void {
  expect(files(actual)).toEqual(files(expected));
  for (const f of files(expected)) {
    const read = (dir: string) => (f.endsWith('.hdf5') ? withoutHdf5Times(readFileSync(join(dir, f))) : readFileSync(join(dir, f)));
    expect(read(actual).equals(read(expected)), f).toBe(true);
  }
}

/** Copies the interrupted run, damages it, resumes it; returns the resumed directory and the notices. */
async function resumeAfter(partial: string, format: string, damage: (dir: string) => void): Promise<{ dir: string; notices: string[] }> {
  const dir = join(tmpDir('tf-repair-'), 'resumed');
  cpSync(partial, dir, { recursive: true });
  damage(dir);
  const notices: string[] = [];
  const result = await generateDataset({ ...options(dir, format, true), onNotice: (line) => notices.push(line) });
  expect(result.episodes).toBe(EPISODES);
  return { dir, notices };
}

const truncateHalf = (file: string) => truncateSync(file, Math.floor(statSync(file).size / 2));
/** Flips one byte in the middle: same length, damaged content. */
function flipByte(file: string): void {
  const bytes = readFileSync(file);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(file, bytes);
}
/** Cuts the journal's last line in half: a run killed mid-append. */
function tearLastLine(journal: string): void {
  const text = readFileSync(journal, 'utf8');
  const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
  writeFileSync(journal, text.slice(0, lastStart + Math.floor((text.length - lastStart) / 2)));
}

describe('lerobot: damaged checkpoint parts are discarded and redone', () => {
  let reference: string;
  let partial: string;
  const parts = (dir: string) => join(dir, '.trajforge', 'parts');
  beforeAll(async () => {
    reference = join(tmpDir('tf-repair-'), 'reference');
    await generateDataset(options(reference, 'lerobot', false));
    // Parts 0 and 1 committed (episodes 0-3), part-00002.tmp holds episode 4.
    partial = await interrupted('lerobot', 5);
    expect(readdirSync(parts(partial)).sort()).toEqual(['part-00000', 'part-00001', 'part-00002.tmp']);
  }, 60_000);

  const cases: [string, (dir: string) => void, RegExp][] = [
    ['a truncated mp4', (d) => truncateHalf(join(parts(d), 'part-00001', 'top.mp4')), /^discarded part-00001 \(top\.mp4 truncated: \d+ of \d+ bytes\); redoing episodes 2-3$/],
    ['a missing mp4', (d) => rmSync(join(parts(d), 'part-00001', 'top.mp4')), /^discarded part-00001 \(top\.mp4 missing\); redoing episodes 2-3$/],
    ['a truncated rows.bin.gz', (d) => truncateHalf(join(parts(d), 'part-00000', 'rows.bin.gz')), /^discarded part-00000 \(rows\.bin\.gz truncated: \d+ of \d+ bytes\); redoing episodes 0-1$/],
    ['a damaged rows.bin.gz of the right length', (d) => flipByte(join(parts(d), 'part-00001', 'rows.bin.gz')), /^discarded part-00001 \(rows\.bin\.gz unreadable\); redoing episodes 2-3$/],
    ['a missing episodes.json', (d) => rmSync(join(parts(d), 'part-00001', 'episodes.json')), /^discarded part-00001 \(episodes\.json missing\)/],
    ['a missing extras npz', (d) => rmSync(join(parts(d), 'part-00001', 'extras', 'episode_000003.npz')), /^discarded part-00001 \(extras\/episode_000003\.npz missing\)/],
    ['a gap in the part numbers', (d) => rmSync(join(parts(d), 'part-00000'), { recursive: true }), /^discarded part-00001 \(part-00000 is missing\); redoing episodes 2-3$/],
    ['a part renamed while incomplete', (d) => cpSync(join(parts(d), 'part-00002.tmp'), join(parts(d), 'part-00002'), { recursive: true }), /^discarded part-00002 \(manifest\.json missing\); redoing episodes 4-5$/],
  ];
  for (const [what, damage, notice] of cases) {
    it(`repairs ${what}`, async () => {
      const { dir, notices } = await resumeAfter(partial, 'lerobot', damage);
      expect(notices[0]).toMatch(notice);
      expectSameFiles(dir, reference);
    });
  }

  it('resumes parts that an earlier version staged with raw rows (rows.bin), notice-free', async () => {
    const { dir, notices } = await resumeAfter(partial, 'lerobot', (d) => {
      for (const part of ['part-00000', 'part-00001']) {
        const gz = join(parts(d), part, 'rows.bin.gz');
        const raw = gunzipSync(readFileSync(gz));
        writeFileSync(join(parts(d), part, 'rows.bin'), raw);
        rmSync(gz);
        const manifest = JSON.parse(readFileSync(join(parts(d), part, 'manifest.json'), 'utf8')) as { files: Record<string, number> };
        delete manifest.files['rows.bin.gz'];
        manifest.files['rows.bin'] = raw.length;
        writeFileSync(join(parts(d), part, 'manifest.json'), JSON.stringify(manifest));
      }
    });
    expect(notices).toEqual([]);
    expectSameFiles(dir, reference);
  });

  it('repairs what a second writer left: a finished part beside its .tmp, and a committed part without its mp4', async () => {
    const { dir, notices } = await resumeAfter(partial, 'lerobot', (d) => {
      // The first writer's part-00001.tmp survives next to the second writer's committed part-00001.
      cpSync(join(parts(d), 'part-00001'), join(parts(d), 'part-00001.tmp'), { recursive: true });
      // A part-00002 committed from a folder whose mp4 the other writer deleted (ENOENT .../part-00002/top.mp4).
      cpSync(join(parts(d), 'part-00001'), join(parts(d), 'part-00002'), { recursive: true });
      rmSync(join(parts(d), 'part-00002', 'top.mp4'));
    });
    expect(notices).toEqual([expect.stringMatching(/^discarded part-00002 \(top\.mp4 missing\); redoing episodes 4-5$/)]);
    expectSameFiles(dir, reference);
  });

  it('a clean interruption resumes without notices', async () => {
    const { dir, notices } = await resumeAfter(partial, 'lerobot', () => {});
    expect(notices).toEqual([]);
    expectSameFiles(dir, reference);
  });
});

/** The journal sinks: the run is interrupted after 4 journaled episodes. */
const journalCases: { format: string; journal: string; cases: [string, (dir: string) => void, RegExp][] }[] = [
  {
    format: 'dreamer',
    journal: '.trajforge-dreamer/episodes.jsonl',
    cases: [
      ['a truncated replay chunk', (d) => truncateHalf(chunkOf(d, 2)), /^discarded episode 2 \(replay\/\S+-\d+\.npz truncated: \d+ of \d+ bytes\); redoing episodes 2-3$/],
      ['a missing replay chunk', (d) => rmSync(chunkOf(d, 1)), /^discarded episode 1 \(replay\/\S+\.npz missing\); redoing episodes 1-3$/],
      ['a torn journal line', (d) => tearLastLine(join(d, '.trajforge-dreamer/episodes.jsonl')), /^discarded episode 3 \(episodes\.jsonl line 4 torn: \d+ bytes without a newline\); redoing episode 3$/],
    ],
  },
  {
    format: 'minari',
    journal: '.trajforge-minari/episodes.jsonl',
    cases: [
      ['a truncated HDF5 file', (d) => truncateHalf(minariTmp(d)), /^discarded all episodes \(main_data\.hdf5\.tmp truncated: \d+ of \d+ bytes\); redoing episodes 0-3$/],
      ['a missing HDF5 file', (d) => rmSync(minariTmp(d)), /^discarded all episodes \(main_data\.hdf5\.tmp missing\); redoing episodes 0-3$/],
      ['a torn journal line', (d) => tearLastLine(join(d, '.trajforge-minari/episodes.jsonl')), /^discarded all episodes \(episodes\.jsonl line 4 torn: \d+ bytes without a newline; main_data\.hdf5\.tmp has \d+ bytes, \d+ recorded\); redoing episodes 0-3$/],
    ],
  },
  {
    format: 'rlds',
    journal: '.trajforge-rlds/episodes.jsonl',
    cases: [
      ['a truncated shard', (d) => truncateSync(rldsTmp(d), journalOf(d, 'rlds')[1]!.end + 10), /^discarded episode 2 \(\S+\.tfrecord-00000-of-00001\.tmp truncated: \d+ of \d+ bytes\); redoing episodes 2-3$/],
      ['a missing shard', (d) => rmSync(rldsTmp(d)), /^discarded episode 0 \(\S+\.tmp missing\); redoing episodes 0-3$/],
      ['a torn journal line', (d) => tearLastLine(join(d, '.trajforge-rlds/episodes.jsonl')), /^discarded episode 3 \(episodes\.jsonl line 4 torn: \d+ bytes without a newline\); redoing episode 3$/],
    ],
  },
  {
    format: 'frames',
    journal: '.trajforge-frames/episodes.jsonl',
    cases: [
      ['a truncated frame', (d) => truncateHalf(join(d, 'episode_000001', 'rgba_00002.png')), /^discarded episode_000001 \(episode_000001\/rgba_00002\.png truncated: \d+ of \d+ bytes\); redoing episodes 1-3$/],
      ['a missing episode folder', (d) => rmSync(join(d, 'episode_000002'), { recursive: true }), /^discarded episode_000002 \(episode_000002 missing\); redoing episodes 2-3$/],
      ['a missing frame', (d) => rmSync(join(d, 'episode_000000', 'depth_00001.tiff')), /^discarded episode_000000 \(episode_000000\/depth_00001\.tiff missing\); redoing episodes 0-3$/],
      ['a torn journal line', (d) => tearLastLine(join(d, '.trajforge-frames/episodes.jsonl')), /^discarded episode_000003 \(episodes\.jsonl line 4 torn: \d+ bytes without a newline\); redoing episode 3$/],
    ],
  },
];

function journalOf(dir: string, format: string): { end: number; files: Record<string, number> }[] {
  return readFileSync(join(dir, `.trajforge-${format}`, 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
const chunkOf = (dir: string, episode: number) => join(dir, Object.keys(journalOf(dir, 'dreamer')[episode]!.files)[0]!);
const minariTmp = (dir: string) => join(dir, 'trajforge', 'pushcube-v1', 'data', 'main_data.hdf5.tmp');
const rldsTmp = (dir: string) => join(dir, 'push_cube', '1.0.0', 'push_cube-train.tfrecord-00000-of-00001.tmp');

for (const { format, journal, cases } of journalCases) {
  describe(`${format}: journaled episodes whose files are damaged are discarded and redone`, () => {
    let reference: string;
    let partial: string;
    beforeAll(async () => {
      reference = join(tmpDir('tf-repair-'), 'reference');
      await generateDataset(options(reference, format, false));
      partial = await interrupted(format, 4);
      expect(readFileSync(join(partial, journal), 'utf8').trim().split('\n')).toHaveLength(4);
    }, 60_000);

    for (const [what, damage, notice] of cases) {
      it(`repairs ${what}`, async () => {
        const { dir, notices } = await resumeAfter(partial, format, damage);
        expect(notices).toEqual([expect.stringMatching(notice)]);
        expectSameFiles(dir, reference);
      });
    }

    it('a clean interruption resumes without notices', async () => {
      const { dir, notices } = await resumeAfter(partial, format, () => {});
      expect(notices).toEqual([]);
      expectSameFiles(dir, reference);
    });

    it('redoes an episode whose files landed but whose journal line did not', async () => {
      const { dir, notices } = await resumeAfter(partial, format, (d) => {
        const text = readFileSync(join(d, journal), 'utf8');
        writeFileSync(join(d, journal), text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1));
      });
      expect(notices.length).toBeLessThanOrEqual(1); // Minari redoes its whole file and says so
      expectSameFiles(dir, reference);
    });
  });
}

describe('several formats: each sink repairs its own folder', () => {
  it('names the format in its notices and ends equal to an uninterrupted run', async () => {
    const reference = join(tmpDir('tf-repair-'), 'reference');
    await generateDataset(options(reference, 'lerobot,dreamer', false));
    const partial = await interrupted('lerobot,dreamer', 5);
    const { dir, notices } = await resumeAfter(partial, 'lerobot,dreamer', (d) => {
      rmSync(chunkOf(join(d, 'dreamer'), 3));
      appendFileSync(join(d, 'dreamer', '.trajforge-dreamer', 'episodes.jsonl'), '{"episode":5,');
      rmSync(join(d, 'lerobot', '.trajforge', 'parts', 'part-00000'), { recursive: true });
    });
    expect(notices).toEqual([
      expect.stringMatching(/^lerobot: discarded part-00001 \(part-00000 is missing\); redoing episodes 2-3$/),
      expect.stringMatching(/^dreamer: discarded episode 3 \(replay\/\S+\.npz missing\); redoing episodes 3-5$/),
    ]);
    expect(existsSync(join(dir, 'lerobot', '.trajforge'))).toBe(false);
    expectSameFiles(dir, reference);
  }, 60_000);
});
