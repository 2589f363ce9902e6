import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { episodeSeed } from '../../../src/episode/rollout.js';
import { createRunner } from '../../../src/episode/runner.js';
import { validateLeRobot } from '../../../src/export/lerobot/reader.js';
import { decodeVideo, frameTimestamps } from '../../../src/video/ffmpeg.js';
import { cli, query, tmpDir } from '../../helpers/dataset.js';
import { readEpisodeNpz, rows } from '../../helpers/readers.js';

const ENV = 'PushCube-v1';

/** Re-simulates episode k of a run: the ground truth every written value is compared against. */
async function truth(k: number, seed = 0) {
  const runner = await createRunner({
    config: loadEnv(ENV).config,
    source: 'truth',
    policy: { kind: 'expert', noise: 0, epsilon: 0 },
    cameras: [{ name: 'top', channels: ['rgb', 'depth', 'segmentation'] }],
    supersample: 1,
  });
  const ep = await runner.run(k, episodeSeed(seed, k));
  await runner.close();
  return ep;
}

function files(dir: string, sub = ''): string[] {
  const root = join(dir, sub);
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(dir, join(sub, e.name)) : [join(sub, e.name)])).sort();
}

describe('generate -> LeRobot v3 (read back independently)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(tmpDir(), 'ds');
    // checkpoint 2: several parts, so videos are concatenated and indices cross part boundaries.
    const r = await cli(['generate', ENV, '--episodes', '5', '--out', dir, '--workers', '2', '--checkpoint', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('passes validate, including every video frame timestamp', async () => {
    expect(await validateLeRobot(dir, { deep: true })).toEqual([]);
    const r = await cli(['validate', dir]);
    expect(r.out).toMatch(/valid LeRobot v3.0 dataset/);
  });

  it('has a dataset card: Hub front matter, what the episodes are, every feature, how to load them', () => {
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8')) as { total_episodes: number; total_frames: number; fps: number; features: Record<string, unknown> };
    expect(card.startsWith('---\ntags:\n  - LeRobot\n')).toBe(true);
    expect(card).toContain('    data_files: data/*/*.parquet\n---\n');
    expect(card).toContain(`| episodes | ${info.total_episodes} (${info.total_frames} frames at ${info.fps} fps)`);
    for (const key of Object.keys(info.features)) expect(card).toContain(`| \`${key}\` |`);
    expect(card).toContain('LeRobotDataset(');
    expect(card).toContain("FROM 'data/*/*.parquet'");
  });

  it('has the exact layout LeRobot expects', () => {
    // meta/trajforge_episodes holds each episode's final observation and per-frame tracks: few
    // files, as LeRobot v3 keeps its own metadata (one here for 5 episodes).
    expect(files(dir).filter((f) => f.startsWith('meta/trajforge_episodes/'))).toEqual(['meta/trajforge_episodes/chunk-000/file-000.npz']);
    // .trajforge-output.json marks the folder as trajforge's (what --overwrite may replace) and
    // .trajforge-run.json keeps the run's settings (--resume of a finished run is a no-op); LeRobot ignores both.
    expect(files(dir).filter((f) => !f.startsWith('meta/trajforge_episodes/'))).toEqual([
      '.trajforge-output.json',
      '.trajforge-run.json',
      'README.md',
      'data/chunk-000/file-000.parquet',
      'meta/episodes/chunk-000/file-000.parquet',
      'meta/info.json',
      'meta/stats.json',
      'meta/tasks.parquet',
      'meta/trajforge.json',
      'meta/trajforge_episodes.jsonl',
      'videos/observation.images.top/chunk-000/file-000.mp4',
    ]);
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    expect(info).toMatchObject({ codebase_version: 'v3.0', fps: 20, total_episodes: 5, total_tasks: 1, chunks_size: 1000, data_files_size_in_mb: 100, video_files_size_in_mb: 200, splits: { train: '0:5' } });
    expect(info.data_path).toBe('data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet');
    expect(info.video_path).toBe('videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4');
    expect(info.features['observation.images.top']).toMatchObject({ dtype: 'video', shape: [64, 64, 3], names: ['height', 'width', 'channels'] });
    expect(info.features['observation.state'].names).toHaveLength(12);
  });

  it('data parquet: exact column types (DuckDB) and values equal to a re-simulation', async () => {
    const f = join(dir, 'data/chunk-000/file-000.parquet');
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM '${f}'`)).map((r) => [r.column_name, r.column_type]));
    expect(types).toEqual({
      'observation.state': 'FLOAT[]',
      action: 'FLOAT[]',
      'next.reward': 'FLOAT',
      'next.done': 'BOOLEAN',
      'next.terminated': 'BOOLEAN',
      'next.truncated': 'BOOLEAN',
      'next.success': 'BOOLEAN',
      'observation.depth.top': 'FLOAT[]',
      'observation.segmentation.top': 'USMALLINT[]',
      timestamp: 'FLOAT',
      frame_index: 'BIGINT',
      episode_index: 'BIGINT',
      index: 'BIGINT',
      task_index: 'BIGINT',
    });
    const rows = await query(`SELECT "observation.state" AS s, action AS a, "next.reward" AS r, "next.done" AS d, timestamp AS t, frame_index AS fi, episode_index AS ei, index AS ix, "observation.segmentation.top" AS seg FROM '${f}'`);
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    expect(rows.length).toBe(info.total_frames);
    rows.forEach((r, i) => expect(Number(r.ix)).toBe(i));
    const ep3 = await truth(3);
    const rows3 = rows.filter((r) => Number(r.ei) === 3);
    expect(rows3.length).toBe(ep3.length);
    rows3.forEach((r, t) => {
      expect(r.s).toEqual(Array.from(ep3.obs.subarray(t * 12, t * 12 + 12)));
      expect(r.a).toEqual(Array.from(ep3.actions.subarray(t * 2, t * 2 + 2)));
      expect(r.r).toBe(ep3.rewards[t]);
      expect(r.d).toBe(t === ep3.length - 1);
      expect(Number(r.fi)).toBe(t);
      expect(r.t).toBe(Math.fround(t / 20));
    });
    const seg = ep3.frames.find((x) => x.channel === 'segmentation')!.data;
    expect(rows3[2]!.seg).toEqual(Array.from(seg.subarray(2 * 4096, 3 * 4096)));
  });

  it('meta/episodes: indices contiguous, timestamps cumulative in whole frames, seeds recorded', async () => {
    const eps = await query(`SELECT * FROM '${join(dir, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
    let frames = 0;
    eps.forEach((e, i) => {
      expect(Number(e.episode_index)).toBe(i);
      expect(Number(e.dataset_from_index)).toBe(frames);
      expect(Number(e.dataset_to_index)).toBe(frames + Number(e.length));
      expect(e['videos/observation.images.top/from_timestamp']).toBe(frames / 20);
      expect(e['videos/observation.images.top/to_timestamp']).toBe((frames + Number(e.length)) / 20);
      expect(Number(e.seed)).toBe(episodeSeed(0, i));
      expect(e.tasks).toEqual(['Push the red cube onto the green goal.']);
      expect(e.config_hash).toBe(loadEnv(ENV).hash);
      expect((e['stats/observation.state/q99'] as number[]).length).toBe(12);
      frames += Number(e.length);
    });
  });

  it('records camera intrinsics and per-frame poses per episode (jittered cameras differ)', () => {
    const eps = readFileSync(join(dir, 'meta/trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // The per-frame tracks live in meta/trajforge_episodes/chunk-*/file-*.npz: read them with npyjs.
    const tracks = eps.map((_e: unknown, i: number) => {
      const d = readEpisodeNpz(dir, i);
      return { K: rows(d['camera/top/K']!.data, 3), pos: rows(d['camera/top/positions']!.data, 3), q: d['camera/top/quaternions']!.shape[1], w2c: d['camera/top/world_to_camera']!.shape, final_obs: d.final_obs!.shape, rgb: d['final/top.rgb']!.shape, cube: d['body/3/positions']!.shape };
    });
    eps.forEach((e: { length: number }, i: number) => {
      const t = tracks[i]!;
      expect(t.K[0]![0]).toBeCloseTo(32 / Math.tan((50 * Math.PI) / 360), 9);
      expect(t.K[0]![2]).toBe(32);
      expect(t.pos).toHaveLength(e.length + 1); // every frame and the final observation
      expect(t.q).toBe(4);
      expect(t.w2c).toEqual([4, 4]);
      expect(t.final_obs).toEqual([12]);
      expect(t.rgb).toEqual([64, 64, 3]);
      expect(t.cube).toEqual([e.length + 1, 3]);
    });
    expect(tracks[0]!.pos[0]).not.toEqual(tracks[1]!.pos[0]);
    const side = JSON.parse(readFileSync(join(dir, 'meta/trajforge.json'), 'utf8'));
    expect(side.config.id).toBe(ENV);
    expect(side.body_names).toEqual(['ground', 'goal', 'cube', 'pusher']);
  });

  it('meta/tasks.parquet is a pandas frame indexed by the task string', async () => {
    const f = join(dir, 'meta/tasks.parquet');
    expect(await query(`SELECT task_index, task FROM '${f}'`)).toEqual([{ task_index: '0', task: 'Push the red cube onto the green goal.' }]);
    const kv = await query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${f}')`);
    const pandas = JSON.parse(kv.find((x) => x.k === 'pandas')!.v as string);
    expect(pandas.index_columns).toEqual(['task']);
  });

  it('stats.json: every feature, quantiles, image stats per channel (3,1,1) in [0,1], exact numeric means', async () => {
    const stats = JSON.parse(readFileSync(join(dir, 'meta/stats.json'), 'utf8'));
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    for (const k of Object.keys(info.features)) expect(Object.keys(stats[k]).sort()).toEqual(['count', 'max', 'mean', 'min', 'q01', 'q10', 'q50', 'q90', 'q99', 'std']);
    const img = stats['observation.images.top'];
    expect(img.mean).toHaveLength(3);
    for (const key of ['min', 'max', 'mean', 'std', 'q01', 'q50', 'q99']) {
      for (const c of img[key]) {
        expect(c[0][0]).toBeGreaterThanOrEqual(0);
        expect(c[0][0]).toBeLessThanOrEqual(1);
      }
    }
    expect(img.count).toEqual([info.total_frames]);
    const f = join(dir, 'data/chunk-000/file-000.parquet');
    const [m] = await query(`SELECT avg("next.reward") AS m, quantile_cont("next.reward", 0.9) AS q, stddev_pop("next.reward") AS s FROM '${f}'`);
    expect(stats['next.reward'].mean[0]).toBeCloseTo(m!.m as number, 6);
    expect(stats['next.reward'].q90[0]).toBeCloseTo(m!.q as number, 6);
    expect(stats['next.reward'].std[0]).toBeCloseTo(m!.s as number, 6);
    expect(stats['observation.state'].count).toEqual([info.total_frames]);
  });

  it('video: every frame at from_timestamp + i/fps (1e-4 s) and equal to the rendered frames within codec tolerance', async () => {
    const file = join(dir, 'videos/observation.images.top/chunk-000/file-000.mp4');
    const pts = await frameTimestamps(file);
    const { rgb, frames } = await decodeVideo(file, 64, 64);
    const eps = await query(`SELECT episode_index, length, "videos/observation.images.top/from_timestamp" AS f FROM '${join(dir, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY 1`);
    expect(frames).toBe(eps.reduce((n, e) => n + Number(e.length), 0));
    for (const e of eps) {
      const from = e.f as number;
      for (let t = 0; t < Number(e.length); t++) expect(Math.abs(pts[Math.round((from + t / 20) * 20)]! - (from + t / 20))).toBeLessThanOrEqual(1e-4);
    }
    const ep = await truth(4);
    const start = Math.round((eps[4]!.f as number) * 20);
    const ref = ep.frames.find((x) => x.channel === 'rgb')!.data as Uint8Array;
    let sum = 0;
    for (let i = 0; i < ref.length; i++) sum += Math.abs(ref[i]! - rgb[start * 64 * 64 * 3 + i]!);
    expect(sum / ref.length).toBeLessThan(3); // H.264 at crf 18
  });

  it('refuses a non-empty directory without --resume or --overwrite; --overwrite replaces it', async () => {
    const r = await cli(['generate', ENV, '--episodes', '1', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_DATASET_EXISTS.*--overwrite.*--resume/);
    const copy = join(tmpDir(), 'copy');
    cpSync(dir, copy, { recursive: true });
    const o = await cli(['generate', ENV, '--episodes', '2', '--out', copy, '--overwrite', '--workers', '0']);
    expect(o.code, o.err).toBe(0);
    expect(JSON.parse(readFileSync(join(copy, 'meta/info.json'), 'utf8')).total_episodes).toBe(2);
  });
});

describe('lossless video, determinism, resume, shards', () => {
  const common = ['--episodes', '6', '--checkpoint', '2', '--codec', 'lossless', '--channels', 'rgb'];
  let single: string;
  beforeAll(async () => {
    single = join(tmpDir(), 'single');
    const r = await cli(['generate', ENV, ...common, '--out', single, '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('lossless video decodes to exactly the rendered frames', async () => {
    const { rgb } = await decodeVideo(join(single, 'videos/observation.images.top/chunk-000/file-000.mp4'), 64, 64);
    const eps = await query(`SELECT length FROM '${join(single, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
    let offset = 0;
    for (const [k, e] of eps.entries()) {
      const ref = (await truth(k)).frames.find((x) => x.channel === 'rgb')!.data as Uint8Array;
      expect(Buffer.from(rgb.subarray(offset, offset + ref.length)).equals(Buffer.from(ref))).toBe(true);
      offset += Number(e.length) * 64 * 64 * 3;
    }
  });

  it('is byte-identical with 0 workers (in-process) and 2 workers', async () => {
    const other = join(tmpDir(), 'w0');
    expect((await cli(['generate', ENV, ...common, '--out', other, '--workers', '0'])).code).toBe(0);
    expect(files(other)).toEqual(files(single));
    for (const f of files(single)) expect(readFileSync(join(other, f)).equals(readFileSync(join(single, f))), f).toBe(true);
  });

  it('a SIGKILLed run resumes from its last checkpoint and ends identical to an uninterrupted run', async () => {
    const dir = join(tmpDir(), 'killed');
    const args = ['--import', 'tsx', join(process.cwd(), 'test/helpers/cli.ts'), 'generate', ENV, ...common, '--out', dir, '--workers', '1'];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const parts = join(dir, '.trajforge', 'parts');
    // Kill once at least one checkpoint is durable but before the run is over.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const done = existsSync(parts) ? readdirSync(parts).filter((p) => /^part-\d+$/.test(p)).length : 0;
        if (done >= 1) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
    const r = await cli(['generate', ENV, ...common, '--out', dir, '--workers', '2', '--resume']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/resumed after [1-9]/);
    expect(files(dir)).toEqual(files(single));
    for (const f of files(single)) expect(readFileSync(join(dir, f)).equals(readFileSync(join(single, f))), f).toBe(true);
  }, 120_000);

  it('shards 0/2 and 1/2 merged equal a single run: same rows, same decoded frames', async () => {
    const root = tmpDir();
    for (const i of [0, 1]) expect((await cli(['generate', ENV, ...common, '--out', join(root, `s${i}`), '--shard', `${i}/2`, '--workers', '1'])).code).toBe(0);
    const s0 = readFileSync(join(root, 's0/meta/trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(s0.map((e: { source_episode: number }) => e.source_episode)).toEqual([0, 2, 4]);
    const m = await cli(['merge', join(root, 's0'), join(root, 's1'), '--out', join(root, 'merged')]);
    expect(m.code, m.err).toBe(0);
    expect(await validateLeRobot(join(root, 'merged'), { deep: true })).toEqual([]);
    const a = await query(`SELECT * FROM '${join(single, 'data/*/*.parquet')}' ORDER BY index`);
    const b = await query(`SELECT * FROM '${join(root, 'merged/data/*/*.parquet')}' ORDER BY index`);
    expect(b).toEqual(a);
    expect(readFileSync(join(root, 'merged/meta/stats.json'), 'utf8')).toBe(readFileSync(join(single, 'meta/stats.json'), 'utf8'));
    // Decoded frames of every episode match.
    const frameOf = async (ds: string) => {
      const eps = await query(`SELECT length, "videos/observation.images.top/file_index" AS f, "videos/observation.images.top/from_timestamp" AS t FROM '${join(ds, 'meta/episodes/chunk-000/file-000.parquet')}' ORDER BY episode_index`);
      const out: Buffer[] = [];
      for (const e of eps) {
        const file = join(ds, `videos/observation.images.top/chunk-000/file-${String(e.f).padStart(3, '0')}.mp4`);
        const { rgb } = await decodeVideo(file, 64, 64);
        const start = Math.round((e.t as number) * 20) * 64 * 64 * 3;
        out.push(rgb.subarray(start, start + Number(e.length) * 64 * 64 * 3));
      }
      return out;
    };
    const fa = await frameOf(single);
    const fb = await frameOf(join(root, 'merged'));
    fa.forEach((f, i) => expect(fb[i]!.equals(f), `episode ${i}`).toBe(true));
  }, 120_000);
});

describe('validate names each violation of a broken dataset', () => {
  let good: string;
  beforeAll(async () => {
    good = join(tmpDir(), 'good');
    expect((await cli(['generate', ENV, '--episodes', '3', '--out', good, '--workers', '0', '--channels', 'rgb'])).code).toBe(0);
  });
  const broken = (mutate: (dir: string) => void) => {
    const dir = join(tmpDir(), 'broken');
    cpSync(good, dir, { recursive: true });
    mutate(dir);
    return dir;
  };

  it('a missing video file', async () => {
    const dir = broken((d) => rmSync(join(d, 'videos/observation.images.top/chunk-000/file-000.mp4')));
    expect((await validateLeRobot(dir)).join('\n')).toMatch(/video videos\/observation.images.top\/chunk-000\/file-000.mp4 missing/);
    expect((await cli(['validate', dir])).code).toBe(2);
  });

  it('wrong totals in info.json', async () => {
    const dir = broken((d) => {
      const info = JSON.parse(readFileSync(join(d, 'meta/info.json'), 'utf8'));
      info.total_frames += 5;
      info.codebase_version = 'v2.1';
      writeFileSync(join(d, 'meta/info.json'), JSON.stringify(info));
    });
    const p = (await validateLeRobot(dir)).join('\n');
    expect(p).toMatch(/codebase_version is "v2.1"/);
    expect(p).toMatch(/info.total_frames is \d+/);
  });

  it('missing tasks and stats', async () => {
    const dir = broken((d) => {
      rmSync(join(d, 'meta/tasks.parquet'));
      rmSync(join(d, 'meta/stats.json'));
    });
    const p = (await validateLeRobot(dir)).join('\n');
    expect(p).toMatch(/meta\/tasks.parquet missing/);
    expect(p).toMatch(/meta\/stats.json missing/);
  });

  it('stats without quantiles, and a feature declared but absent from the data', async () => {
    const dir = broken((d) => {
      const stats = JSON.parse(readFileSync(join(d, 'meta/stats.json'), 'utf8'));
      delete stats.action.q99;
      writeFileSync(join(d, 'meta/stats.json'), JSON.stringify(stats));
      const info = JSON.parse(readFileSync(join(d, 'meta/info.json'), 'utf8'));
      info.features['observation.extra'] = { dtype: 'float32', shape: [3], names: null };
      writeFileSync(join(d, 'meta/info.json'), JSON.stringify(info));
    });
    const p = (await validateLeRobot(dir)).join('\n');
    expect(p).toMatch(/action lacks q99/);
    expect(p).toMatch(/feature observation.extra has no column/);
  });

  it('a non-dataset directory', async () => {
    expect((await validateLeRobot(tmpDir())).join('\n')).toMatch(/not a LeRobot dataset/);
  });
});

describe('failures stop cleanly', () => {
  it('an --out under a file is refused as a usage error before anything is written', async () => {
    const root = tmpDir();
    writeFileSync(join(root, 'file'), 'not a directory');
    const r = await cli(['generate', ENV, '--episodes', '1', '--out', join(root, 'file', 'ds'), '--workers', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[E_USAGE\]: .*file\/ds lies under .*file, which is a file, not a folder/);
  });

  it('a missing ffmpeg is a clear E_FFMPEG_FAILED error', async () => {
    const dir = join(tmpDir(), 'noff');
    process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
    try {
      const r = await cli(['generate', ENV, '--episodes', '1', '--out', dir, '--workers', '0']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/E_FFMPEG_FAILED.*FFMPEG_PATH=\/nonexistent\/ffmpeg/);
    } finally {
      delete process.env.FFMPEG_PATH;
    }
    expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
  });
});

describe('resume edge cases', () => {
  it('--resume on an empty directory starts the run; on a finished run it is a no-op', async () => {
    const dir = join(tmpDir(), 'fresh');
    const first = await cli(['generate', ENV, '--episodes', '2', '--out', dir, '--resume', '--workers', '0', '--channels', 'rgb']);
    expect(first.code, first.err).toBe(0);
    const again = await cli(['generate', ENV, '--episodes', '2', '--out', dir, '--resume', '--workers', '0', '--channels', 'rgb']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/already complete/);
    const other = await cli(['generate', ENV, '--episodes', '3', '--out', dir, '--resume', '--workers', '0', '--channels', 'rgb']);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/finished run with different settings \(these differ: run\.episodes;/);
  });
});

describe('file and chunk rollover', () => {
  it('rolls data and video files over at the size thresholds and chunks over at chunks_size', async () => {
    const dir = join(tmpDir(), 'roll');
    const r = await cli(['generate', ENV, '--episodes', '8', '--checkpoint', '1', '--out', dir, '--workers', '2', '--channels', 'rgb,depth', '--data-file-mb', '0.2', '--video-file-mb', '0.02', '--chunk-size', '2']);
    expect(r.code, r.err).toBe(0);
    const all = files(dir);
    const data = all.filter((f) => f.startsWith('data/'));
    const videos = all.filter((f) => f.startsWith('videos/'));
    expect(data.length).toBeGreaterThan(1);
    expect(videos.length).toBeGreaterThan(1);
    expect(data).toContain('data/chunk-001/file-000.parquet'); // the third file opens chunk 1
    const info = JSON.parse(readFileSync(join(dir, 'meta/info.json'), 'utf8'));
    expect(info).toMatchObject({ chunks_size: 2, data_files_size_in_mb: 0.2, video_files_size_in_mb: 0.02 });
    expect(await validateLeRobot(dir, { deep: true })).toEqual([]);
    // LeRobot reads data/*/*.parquet sorted and requires index == row position across files.
    const rows = await query(`SELECT index FROM read_parquet(${JSON.stringify(data.map((f) => join(dir, f)))})`);
    rows.forEach((row, i) => expect(Number(row.index)).toBe(i));
  }, 120_000);
});
