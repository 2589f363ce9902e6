import { mkdirSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { actionAgreement } from '../../../src/model/label-metrics.js';
import { labelVideos } from '../../../src/pipeline/label.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { writeClip } from '../../../src/video/clip.js';
import { squareFrames, writeCentroidModel } from '../../helpers/analytic-model.js';
import { query, tmpDir } from '../../helpers/dataset.js';
import { H5, readNpz, rows as readRows } from '../../helpers/readers.js';

/**
 * PushCube-v1's top camera is 64x64 at 20 fps. The centroid model moves its latent 8 model pixels
 * per unit action; the clips are drawn at 96x96 with 12 pixels per unit (the same motion after
 * the 96 -> 64 resampling), so labelling them must give back the actions that drew them.
 */
const K_MODEL = 8;
const K_SOURCE = 12;

function path(episode: number, steps: number): Float32Array {
  const a = new Float32Array(steps * 2);
  for (let t = 0; t < steps; t++) {
    a[t * 2] = 0.6 * Math.sin(0.6 * t + episode);
    a[t * 2 + 1] = 0.5 * Math.cos(0.5 * t + 2 * episode);
  }
  return a;
}

let root: string;
let model: string;
const truth: Float32Array[] = [];

beforeAll(() => {
  root = tmpDir('tf-label-');
  model = join(root, 'model');
  writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: K_MODEL, residualScale: 0.05 });
  mkdirSync(join(root, 'videos', 'more'), { recursive: true });
  for (let e = 0; e < 3; e++) {
    const actions = path(e, 30);
    truth.push(actions);
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, K_SOURCE);
    writeClip(join(root, 'videos', e === 2 ? 'more' : '', `clip${e}.mp4`), frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
  }
});

describe('trajforge label', () => {
  it('recovers the actions behind videos of a known motion, and writes a dataset that validates and DuckDB reads', async () => {
    const out = join(root, 'labelled');
    const s = await labelVideos({ videos: join(root, 'videos'), model, out, episodeLength: 12 });
    // 31 frames per clip: episodes of 12, 12 and 6 steps, sharing boundary frames.
    expect(s.sources).toBe(3);
    expect(s.episodes).toBe(9);
    expect(s.frames).toBe(90);
    expect(s.sourceFrames).toBe(93);
    expect(s.skipped).toEqual([]);
    expect(s.confidenceScale).toEqual({ value: 0.05, from: 'card' });

    const eps = await all(out);
    expect(eps.map((e) => e.length)).toEqual([12, 12, 6, 12, 12, 6, 12, 12, 6]);
    // Folder order is by relative path: clip0, clip1, more/clip2.
    const inferred = (clip: number) => {
      const parts = eps.slice(clip * 3, clip * 3 + 3).map((e) => e.actions);
      const all = new Float32Array(60);
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      return all;
    };
    for (let c = 0; c < 3; c++) {
      const agreement = actionAgreement(inferred(c), truth[c]!, 2);
      // Integer square positions: each step is off by up to a pixel of 12, so R² stays just below 1.
      for (const r2 of agreement.r2) expect(r2).toBeGreaterThan(0.97);
      for (const mae of agreement.mae) expect(mae).toBeLessThan(0.06);
    }
    // The state estimate is the centroid in model pixels: the square starts at the centre.
    expect(eps[0]!.obsDim).toBe(2);
    expect(eps[0]!.obs[0]).toBeCloseTo(32, 0);
    expect(eps[0]!.obs[1]).toBeCloseTo(32, 0);

    expect(await validateDataset({ dir: out })).toMatchObject({ valid: true, problems: [] });
    const rows = await query(`SELECT episode_index, source, source_file, source_from_frame, source_to_frame FROM read_parquet('${out}/meta/episodes/*/*.parquet') ORDER BY episode_index`);
    expect(rows.map((r) => [r.source_file, Number(r.source_from_frame), Number(r.source_to_frame)])).toEqual([
      [join(root, 'videos', 'clip0.mp4'), 0, 12],
      [join(root, 'videos', 'clip0.mp4'), 12, 24],
      [join(root, 'videos', 'clip0.mp4'), 24, 30],
      [join(root, 'videos', 'clip1.mp4'), 0, 12],
      [join(root, 'videos', 'clip1.mp4'), 12, 24],
      [join(root, 'videos', 'clip1.mp4'), 24, 30],
      [join(root, 'videos', 'more', 'clip2.mp4'), 0, 12],
      [join(root, 'videos', 'more', 'clip2.mp4'), 12, 24],
      [join(root, 'videos', 'more', 'clip2.mp4'), 24, 30],
    ]);
    expect(new Set(rows.map((r) => r.source))).toEqual(new Set(['labelled']));
    const data = await query(`SELECT action, "action.confidence" AS c, "observation.latent" AS z FROM read_parquet('${out}/data/*/*.parquet') ORDER BY index LIMIT 3`);
    expect((data[0]!.action as number[])[0]).toBeCloseTo(truth[0]![0]!, 1);
    expect((data[0]!.z as number[]).length).toBe(2);
    // An exact model: the dynamics under the inferred action lands on the next latent.
    for (const r of data) expect(Number(r.c)).toBeGreaterThan(0.9);
  });

  it('takes a video at twice the rate and another size and aspect to the same labels, through resampling', async () => {
    const actions = truth[0]!;
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, K_SOURCE);
    // Each frame twice at 40 fps, padded to 4:3 with 24 columns of background each side.
    const W = 144;
    const doubled = new Uint8Array(count * 2 * W * 96 * 3);
    for (let t = 0; t < count; t++) {
      for (const rep of [0, 1]) {
        const base = (t * 2 + rep) * W * 96 * 3;
        for (let i = 0; i < W * 96; i++) doubled.set([30, 30, 30], base + i * 3);
        for (let y = 0; y < 96; y++) doubled.set(frames.subarray((t * 96 + y) * 96 * 3, (t * 96 + y + 1) * 96 * 3), base + (y * W + 24) * 3);
      }
    }
    const file = join(root, 'fast.mp4');
    writeClip(file, doubled, count * 2, { width: W, height: 96, fps: 40, profile: 'lossless' });
    const out = join(root, 'labelled-fast');
    const s = await labelVideos({ videos: file, model, out, episodeLength: 100 });
    expect(s.episodes).toBe(1);
    expect(s.frames).toBe(30);
    const [ep] = await all(out);
    const agreement = actionAgreement(ep!.actions, actions, 2);
    for (const r2 of agreement.r2) expect(r2).toBeGreaterThan(0.97);
    expect(ep!.provenance).toEqual({ file, fromFrame: 0, toFrame: 30, sourceFps: 40, sourceWidth: W, sourceHeight: 96 });
  });

  it('writes Minari and DreamerV3 beside LeRobot with the same labels, read back by jsfive, npyjs and DuckDB', async () => {
    const out = join(root, 'labelled-formats');
    const s = await labelVideos({ videos: join(root, 'videos', 'clip0.mp4'), model, out, episodeLength: 12, format: 'lerobot,minari,dreamer' });
    expect(s.episodes).toBe(3);
    const rows = await query(`SELECT episode_index AS e, action AS a, "observation.state" AS s FROM read_parquet('${out}/lerobot/data/*/*.parquet') ORDER BY index`);
    const h5 = new H5(join(out, 'minari', 'trajforge', 'pushcube-v1', 'data', 'main_data.hdf5'));
    const replay = join(out, 'dreamer', 'replay');
    const files = readdirSync(replay).sort();
    expect(files).toHaveLength(3);
    for (let e = 0; e < 3; e++) {
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      const minari = readRows(h5.data(`episode_${e}/actions`).value, 2);
      expect(minari).toEqual(ep.map((r) => r.a));
      // T + 1 observations: the state estimate of every frame, the final one included.
      expect(h5.data(`episode_${e}/observations/state`).shape).toEqual([T + 1, 2]);
      expect(readRows(h5.data(`episode_${e}/observations/state`).value, 2).slice(0, T)).toEqual(ep.map((r) => r.s));
      const npz = readNpz(join(replay, files[e]!));
      expect(readRows(npz.action!.data, 2).slice(0, T)).toEqual(minari);
    }
    expect((await validateDataset({ dir: join(out, 'lerobot') })).valid).toBe(true);
  });

  it('keeps a long video whole under a long --episode-length (its buffer grows past the first 64 frames)', async () => {
    const actions = path(7, 150);
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, K_SOURCE);
    const file = join(root, 'long.mp4');
    writeClip(file, frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    const out = join(root, 'labelled-long');
    const s = await labelVideos({ videos: file, model, out, episodeLength: 5000 });
    expect([s.episodes, s.frames]).toEqual([1, 150]);
    const [ep] = await all(out);
    for (const r2 of actionAgreement(ep!.actions, actions, 2).r2) expect(r2).toBeGreaterThan(0.97);
  });

  it('flags a jump the model cannot explain with low confidence', async () => {
    const actions = path(5, 20);
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, K_SOURCE);
    // Frames 10.. shifted 30 pixels right: a cut, not a motion any action in [-1, 1] makes.
    const shifted = new Uint8Array(frames);
    for (let t = 10; t < count; t++) {
      const moved = squareFrames(96, 96, 12, [48 + 30, 48], actions.slice(0, 2 * t), K_SOURCE);
      shifted.set(moved.frames.subarray(t * 96 * 96 * 3, (t + 1) * 96 * 96 * 3), t * 96 * 96 * 3);
    }
    const file = join(root, 'cut.mp4');
    writeClip(file, shifted, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    const out = join(root, 'labelled-cut');
    await labelVideos({ videos: file, model, out, episodeLength: 100 });
    const rows = await query(`SELECT frame_index, "action.confidence" AS c FROM read_parquet('${out}/data/*/*.parquet') ORDER BY index`);
    const conf = rows.map((r) => Number(r.c));
    expect(conf[9]!).toBeLessThan(0.01);
    const others = conf.filter((_, t) => t !== 9);
    expect(Math.min(...others)).toBeGreaterThan(0.5);
  });

  it('skips an unreadable file among many with a notice and lists it; refuses a lone bad file with nothing written', async () => {
    const dir = join(root, 'mixed');
    mkdirSync(dir);
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], truth[1]!, K_SOURCE);
    writeClip(join(dir, 'good.mp4'), frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    writeFileSync(join(dir, 'broken.mp4'), 'not a video at all');
    writeFileSync(join(dir, 'empty.webm'), '');
    const notices: string[] = [];
    const s = await labelVideos({ videos: dir, model, out: join(root, 'labelled-mixed'), onNotice: (l) => notices.push(l) });
    expect(s.episodes).toBe(1);
    expect(s.skipped.map((k) => k.file).sort()).toEqual([join(dir, 'broken.mp4'), join(dir, 'empty.webm')]);
    expect(notices.filter((n) => n.startsWith('skipped'))).toHaveLength(2);

    await expect(labelVideos({ videos: dir, model, out: join(root, 'labelled-strict'), strict: true })).rejects.toMatchObject({ code: 'E_VIDEO_INVALID' });
    expect(existsSync(join(root, 'labelled-strict'))).toBe(false);
    const lone = join(dir, 'broken.mp4');
    const err = await labelVideos({ videos: lone, model, out: join(root, 'labelled-lone') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrajforgeError);
    expect((err as TrajforgeError).code).toBe('E_VIDEO_INVALID');
    expect((err as TrajforgeError).message).toContain(lone);
    expect(existsSync(join(root, 'labelled-lone'))).toBe(false);
  });

  it("labels with a model of another tool's dataset (no environment file): the card's frame rate, its training episodes' mean length, no environment config in the output", async () => {
    const foreign = join(root, 'foreign-model');
    // Trained on 10 episodes of 12 steps (13 frames each) of a LeRobot dataset recorded at 10 fps: clips at 20 fps resample to every other frame.
    writeCentroidModel(foreign, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: K_MODEL, residualScale: 0.05, dataset: { env_id: 'koch_push', config_hash: 'f'.repeat(64), episodes: 10, frames: 130, fps: 10 } });
    const out = join(root, 'foreign-labelled');
    const notices: string[] = [];
    const s = await labelVideos({ videos: join(root, 'videos', 'clip0.mp4'), model: foreign, out, format: 'lerobot,minari,frames', onNotice: (m) => notices.push(m) });
    expect(notices.join('\n')).toContain('records no environment config');
    expect(s).toMatchObject({ envId: 'koch_push', fps: 10, episodeLength: 12, sourceFrames: 16 });
    const eps = await all(join(out, 'lerobot'));
    expect(eps.map((e) => e.length)).toEqual([12, 3]);
    // Every other frame of the 20 fps clip: each label is the sum of two source actions.
    const truthAt10 = new Float32Array(30);
    for (let t = 0; t < 15; t++) for (let k = 0; k < 2; k++) truthAt10[t * 2 + k] = truth[0]![4 * t + k]! + truth[0]![4 * t + 2 + k]!;
    const inferred = new Float32Array([...eps[0]!.actions, ...eps[1]!.actions]);
    for (const r2 of actionAgreement(inferred, truthAt10, 2).r2) expect(r2).toBeGreaterThan(0.97);
    const side = JSON.parse(readFileSync(join(out, 'lerobot', 'meta', 'trajforge.json'), 'utf8')) as Record<string, unknown>;
    expect(side).toMatchObject({ env_id: 'koch_push', config_hash: 'f'.repeat(64), fps: 10, action_names: ['vx', 'vy'] });
    expect(side.config).toBeUndefined();
    expect(await validateDataset({ dir: join(out, 'lerobot') })).toMatchObject({ valid: true, problems: [] });
    // Minari: the action space is an unbounded box of the card's actions, as no environment bounds them.
    const h5 = new H5(join(out, 'minari', 'trajforge', 'koch_push-v0', 'data', 'main_data.hdf5'));
    expect(readRows(h5.data('episode_0/actions').value, 2)).toHaveLength(12);
    const minariMeta = JSON.parse(readFileSync(join(out, 'minari', 'trajforge', 'koch_push-v0', 'data', 'metadata.json'), 'utf8')) as { action_space: string };
    expect(minariMeta.action_space).toContain('-Infinity');
    // Frames (Kubric's layout): PNGs and metadata, without the camera pose and bodies video does not have.
    const kubric = JSON.parse(readFileSync(join(out, 'frames', 'episode_000000', 'metadata.json'), 'utf8')) as Record<string, unknown>;
    expect(kubric).toMatchObject({ flags: { env_id: 'koch_push' }, metadata: { frame_rate: 10, num_frames: 13, num_instances: 0 }, instances: [] });
    expect(existsSync(join(out, 'frames', 'episode_000000', 'rgba_00012.png'))).toBe(true);

    // The labelled data trains a policy: the VPT step, with no environment anywhere.
    const { trainBehaviourCloning } = await import('../../../src/pipeline/bc.js');
    const bc = await trainBehaviourCloning({ dataset: join(out, 'lerobot'), out: join(root, 'foreign-policy'), steps: 20, hidden: 8 });
    expect(bc.card).toMatchObject({ env_id: 'koch_push', output: { names: ['vx', 'vy'] } });

    // A card of an earlier release records no frame rate: --fps is asked for, nothing written.
    const old = join(root, 'foreign-old');
    writeCentroidModel(old, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: K_MODEL, dataset: { env_id: 'koch_push', episodes: 10, frames: 120 } });
    await expect(labelVideos({ videos: join(root, 'videos', 'clip0.mp4'), model: old, out: join(root, 'foreign-old-labelled') })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('--fps') });
    expect(existsSync(join(root, 'foreign-old-labelled'))).toBe(false);
    const given = await labelVideos({ videos: join(root, 'videos', 'clip0.mp4'), model: old, out: join(root, 'foreign-old-labelled'), fps: 20 });
    expect(given).toMatchObject({ fps: 20, episodes: 3, sourceFrames: 31 });
  });

  it('refuses a video shorter than two frames, a model without actions to infer and an environment of another action space', async () => {
    const one = join(root, 'one.mp4');
    const { frames } = squareFrames(96, 96, 12, [48, 48], new Float32Array(0), K_SOURCE);
    writeClip(one, frames, 1, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    await expect(labelVideos({ videos: one, model, out: join(root, 'l-one') })).rejects.toMatchObject({ code: 'E_VIDEO_INVALID', message: expect.stringContaining(one) });
    expect(existsSync(join(root, 'l-one'))).toBe(false);

    // A few frames stretched over minutes (0.5 fps into the model's 20): runs of identical frames; refused at once.
    const slow = join(root, 'slow.mp4');
    const six = squareFrames(96, 96, 12, [48, 48], new Float32Array(10).fill(0.3), K_SOURCE);
    writeClip(slow, six.frames, six.count, { width: 96, height: 96, fps: 0.5, profile: 'lossless' });
    await expect(labelVideos({ videos: slow, model, out: join(root, 'l-slow') })).rejects.toMatchObject({ code: 'E_VIDEO_INVALID', message: expect.stringMatching(/runs at 0\.500 fps; resampling it to 20 fps would repeat each frame 40 times \(at most 8\)/) });
    expect(existsSync(join(root, 'l-slow'))).toBe(false);

    const { loadEnv } = await import('../../../src/config/load.js');
    await expect(labelVideos({ videos: join(root, 'videos'), model, out: join(root, 'l-env'), env: loadEnv('CartPole-v1') })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('CartPole-v1') });
    expect(existsSync(join(root, 'l-env'))).toBe(false);
    expect(readdirSync(root).filter((n) => n.startsWith('l-'))).toEqual([]);
  });
});

async function all(dir: string) {
  const eps: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir)) eps.push(ep);
  return eps;
}
