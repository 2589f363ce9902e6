import { mkdtempSync, readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../helpers/cli-io.js';
import { predictFrameSize } from '../../../src/pipeline/predict.js';
import { loadEnv } from '../../../src/config/load.js';
import { episodeSeed } from '../../../src/episode/rollout.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import type { ModelCard } from '../../../src/model/card.js';
import { dreamEpisodes, type DreamModel } from '../../../src/model/dream.js';
import { downsampleInto } from '../../../src/model/transitions.js';
import { readModelCard, readModelParts } from '../../../src/model/store.js';
import { WorldModelSession } from '../../../src/model/session.js';
import { transitionsFromEpisodes } from '../../../src/model/transitions.js';
import { makePolicy } from '../../../src/policy/index.js';
import { Renderer } from '../../../src/render/renderer.js';
import { createEnv } from '../../../src/sim/env.js';
import { decodeVideo, runFfmpeg } from '../../../src/video/ffmpeg.js';

const run = runCommand;

async function readAll(dir: string): Promise<EpisodeData[]> {
  const out: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir)) out.push(ep);
  return out;
}

/** Width and height of a video, from the PNG header of its first frame. */
async function videoSize(file: string): Promise<{ width: number; height: number }> {
  const png = await runFfmpeg(['-i', file, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', 'pipe:1']);
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

let dir: string;
let card: ModelCard;

describe('world-model commands: eval, predict and dream', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tf-wm-'));
    expect((await run('generate', ['PushCube-v1', '--episodes', '6', '--out', 'data'], dir)).code).toBe(0);
    expect((await run('train', ['data', '--out', 'model', '--arch', 'keypoints', '--epochs', '1', '--hidden', '16', '--latent', '26', '--keypoints', '2', '--rollout', '2'], dir)).code).toBe(0);
    card = readModelCard(join(dir, 'model'));
  });

  it('readLeRobotEpisodes with channels [rgb] (what world models read) skips depth and segmentation and reads the rest identically', async () => {
    const full = await readAll(join(dir, 'data'));
    expect(full[0]!.frames.map((f) => f.channel)).toEqual(expect.arrayContaining(['rgb', 'depth', 'segmentation']));
    let e = 0;
    for await (const ep of readLeRobotEpisodes(join(dir, 'data'), { channels: ['rgb'] })) {
      const want = full[e++]!;
      expect(ep.frames.map((f) => f.channel)).toEqual(['rgb']);
      expect(ep.finalFrames.map((f) => f.channel)).toEqual(['rgb']);
      expect(ep.frames[0]!.data).toEqual(want.frames.find((f) => f.channel === 'rgb')!.data);
      expect([ep.obs, ep.actions, ep.rewards, ep.terminated]).toEqual([want.obs, want.actions, want.rewards, want.terminated]);
    }
    expect(e).toBe(full.length);
  });

  it('eval writes report.json, report.md and PNG charts; copy-last matches a direct computation on the held-out frames', async () => {
    const r = await run('eval', ['--model', 'model', 'data', '--horizon', '3', '--out', 'report'], dir);
    expect(r.code).toBe(0);
    // One unit per figure: a share is printed as a percentage against its percentage target.
    expect(r.stdout).toMatch(/3-step MSE below copy-last: -?\d+\.\d % \(target >= 30 %\)/);
    expect(r.stdout).toMatch(/ΔPSNR at 3 steps: -?\d+\.\d\d dB \(target >= 1 dB\)/);
    const report = JSON.parse(readFileSync(join(dir, 'report', 'report.json'), 'utf8'));
    expect(report.horizon).toBe(3);
    expect(report.open_loop.steps).toEqual([1, 2, 3]);
    for (const key of ['model', 'model_shuffled_actions', 'pca_baseline', 'copy_last']) expect(report.open_loop[key].mse).toHaveLength(3);
    expect(report.targets.map((t: { name: string }) => t.name)).toContain('inverse-dynamics R²');
    expect(report.representation.model.samples).toBeGreaterThan(10);
    // Independent copy-last: the card's held-out episodes, frames read back and box-filtered here.
    const eps = await readAll(join(dir, 'data'));
    const t = transitionsFromEpisodes(eps, { camera: card.camera, downsample: card.input.downsample });
    const D = t.frames.cols;
    let sum = 0;
    let count = 0;
    for (const e of card.split.heldout) {
      for (let s = 0; s + 3 <= t.lengths[e]!; s++) {
        const a = (t.frameStarts[e]! + s) * D;
        const b = (t.frameStarts[e]! + s + 1) * D;
        let se = 0;
        for (let i = 0; i < D; i++) se += (t.frames.data[a + i]! - t.frames.data[b + i]!) ** 2;
        sum += se / D;
        count++;
      }
    }
    expect(report.open_loop.copy_last.mse[0]).toBeCloseTo(sum / count, 10);
    const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toMatch(/\| 3 \| /);
    for (const png of ['mse.png', 'psnr.png', 'ssim.png', 'examples.png', 'representation.png']) {
      expect(md).toContain(`(${png})`);
      const img = PNG.sync.read(readFileSync(join(dir, 'report', png)));
      expect(img.width).toBeGreaterThan(50);
    }
  });

  it('predict writes truth | prediction | error, upscaled, with one frame per step plus the context frame', async () => {
    const scale = 3;
    const horizon = 7;
    const r = await run('predict', ['data', '--model', 'model', '--episode', '1', '--horizon', String(horizon), '--scale', String(scale), '--out', 'pred.mp4'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/per-step MSE\s+first \S+\s+last \S+\s+mean \S+/);
    const { width: W, height: H } = card.decoded;
    const size = predictFrameSize(W, H, scale);
    const w = 3 * W * scale + 4;
    expect(size).toEqual({ width: w + (w % 2), height: H * scale + ((H * scale) % 2) });
    expect(await videoSize(join(dir, 'pred.mp4'))).toEqual(size);
    const { frames, rgb } = await decodeVideo(join(dir, 'pred.mp4'), size.width, size.height);
    expect(frames).toBe(horizon + 1);

    // The left panel of frame 0 is the model-resolution truth (the context frame), upscaled.
    const eps = await readAll(join(dir, 'data'));
    const truth = transitionsFromEpisodes([eps[1]!], { camera: card.camera, downsample: card.input.downsample }).frames.data;
    let diff = 0;
    for (let y = 0; y < H * scale; y++) {
      for (let x = 0; x < W * scale; x++) {
        for (let c = 0; c < 3; c++) {
          const want = 255 * truth[(Math.floor(y / scale) * W + Math.floor(x / scale)) * 3 + c]!;
          diff += Math.abs(rgb[(y * size.width + x) * 3 + c]! - want);
        }
      }
    }
    expect(diff / (W * H * scale * scale * 3)).toBeLessThan(4);
    // The gap between panels is white.
    const gap = rgb[(Math.floor(H * scale / 2) * size.width + W * scale) * 3]!;
    expect(gap).toBeGreaterThan(230);
  });

  it('predict rejects bad arguments with E_USAGE', async () => {
    const bad = [
      ['data', '--model', 'model', '--episode', '6', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--episode', '0', '--horizon', '0', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--episode', '0', '--horizon', '1000', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--episode', '0', '--context', '0', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--episode', '0', '--scale', '0', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--out', 'x.mp4'],
      ['data', '--episode', '0', '--out', 'x.mp4'],
      ['data', '--model', 'model', '--episode', '0'],
    ];
    for (const args of bad) await expect(run('predict', args, dir), args.join(' ')).rejects.toMatchObject({ name: 'TrajforgeError', code: 'E_USAGE' });
  });

  it('dream writes a LeRobot dataset marked as world-model data, starting from real reset frames', async () => {
    const N = 3;
    const r = await run('dream', ['--model', 'model', '--env', 'PushCube-v1', '--episodes', String(N), '--policy', 'random', '--horizon', '12', '--seed', '5', '--codec', 'lossless', '--out', 'dream'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/throughput\s+\d+ steps\/s, \d+ frames\/s/);
    const out = join(dir, 'dream');
    const meta = datasetMeta(out);
    expect(meta.source).toEqual({ kind: 'world-model', modelId: card.id, model: join(dir, 'model') });
    expect(meta.cameras).toEqual([{ name: card.camera, width: card.decoded.width, height: card.decoded.height, channels: ['rgb'] }]);
    const eps = await readAll(out);
    expect(eps.length).toBe(N);
    const env = await createEnv(loadEnv('PushCube-v1'));
    const renderer = new Renderer();
    const { width: W, height: H } = card.decoded;
    const f = card.input.downsample;
    expect([W * f, H * f]).toEqual([card.input.width, card.input.height]);
    for (const [k, ep] of eps.entries()) {
      expect(ep.length).toBeGreaterThan(0);
      expect(ep.length).toBeLessThanOrEqual(12);
      expect(ep.terminated[ep.length - 1]! + ep.truncated[ep.length - 1]!).toBe(1);
      for (const a of ep.actions) {
        expect(a).toBeGreaterThanOrEqual(-1);
        expect(a).toBeLessThanOrEqual(1);
      }
      const frames = ep.frames.find((fr) => fr.channel === 'rgb')!;
      expect([frames.width, frames.height]).toEqual([W, H]);
      expect(frames.data.length).toBe(ep.length * W * H * 3);
      // Frame 0 is the environment's real reset frame at the model's resolution; obs 0 the real reset observation.
      const reset = env.reset({ seed: episodeSeed(5, k) });
      const full = renderer.render(env.snapshot(), card.camera, ['rgb']).rgb!;
      const want = new Float32Array(W * H * 3);
      downsampleInto(full, W * f, H * f, f, want, 0);
      let diff = 0;
      for (let i = 0; i < want.length; i++) diff += Math.abs(frames.data[i]! - 255 * want[i]!);
      // Lossless video: only the uint8 rounding of the box-filtered frame remains.
      expect(diff / want.length).toBeLessThanOrEqual(0.5);
      expect(Array.from(ep.obs.subarray(0, ep.obsDim))).toEqual(Array.from(reset.obs));
    }
    env.close();
  });

  it('dream --compare times the dream again without writing, like the simulator pass, and reports the speedup', async () => {
    const r = await run('dream', ['--model', 'model', '--env', 'PushCube-v1', '--episodes', '3', '--policy', 'random', '--horizon', '6', '--seed', '5', '--out', 'dream-compare', '--compare'], dir);
    expect(r.code).toBe(0);
    const steps = Number(/throughput\s+\d+ steps\/s, \d+ frames\/s \((\d+) steps/.exec(r.stdout)![1]);
    // Deterministic: the second pass dreams exactly the same steps.
    expect(r.stdout).toMatch(new RegExp(`dream alone\\s+\\d+ steps/s \\(the same ${steps} steps dreamed again, nothing written\\)`));
    expect(r.stdout).toMatch(/simulator\s+\d+ steps\/s \(\d+ steps simulated \+ rendered rgb at \d+x\d+ .* nothing written, one thread\)/);
    expect(r.stdout).toMatch(/speedup\s+\d+\.\d\dx/);
  });

  it('a dreamed episode does not depend on the batching (continuous batching refills rows mid-run)', async () => {
    const env = await createEnv(loadEnv('PushCube-v1'));
    const session = await WorldModelSession.load(card, readModelParts(join(dir, 'model'), card));
    const jobs = Array.from({ length: 7 }, (_, k) => ({ episode: k, seed: episodeSeed(3, k) }));
    const dream = async (batch: number) => {
      const out: EpisodeData[] = [];
      for await (const ep of dreamEpisodes({ model: session, env, renderer: new Renderer(), makePolicy: () => makePolicy('expert', env, { noise: 0.3 }), jobs, horizon: 9, batch })) out.push(ep);
      return out;
    };
    const [one, three, all] = [await dream(1), await dream(3), await dream(8)];
    await session.release();
    env.close();
    expect(one.map((e) => e.episode)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const other of [three, all]) {
      other.forEach((ep, k) => {
        expect([ep.episode, ep.length]).toEqual([one[k]!.episode, one[k]!.length]);
        expect([ep.actions, ep.rewards, ep.terminated, ep.obs]).toEqual([one[k]!.actions, one[k]!.rewards, one[k]!.terminated, one[k]!.obs]);
        expect(ep.frames[0]!.data).toEqual(one[k]!.frames[0]!.data);
      });
    }
  });

  it('train: --sprites must be odd and needs keypoints; --keypoints 0 falls back to the PCA decoder', async () => {
    for (const bad of [['--sprites', '4'], ['--keypoints', '0', '--sprites', '5']]) {
      await expect(run('train', ['data', '--out', 'm-bad', '--arch', 'keypoints', ...bad], dir), bad.join(' ')).rejects.toMatchObject({ name: 'TrajforgeError', code: 'E_USAGE' });
    }
    expect((await run('train', ['data', '--out', 'm-pca', '--arch', 'keypoints', '--epochs', '1', '--hidden', '16', '--latent', '26', '--keypoints', '0', '--rollout', '2'], dir)).code).toBe(0);
    const pca = readModelCard(join(dir, 'm-pca'));
    expect(pca.training.options).toMatchObject({ keypoints: 0, sprites: 0 });
    expect(card.training.options).toMatchObject({ keypoints: 2, sprites: 5 });
  });

  it('dream rejects bad arguments with E_USAGE', async () => {
    const bad = [
      ['--model', 'model', '--episodes', '2', '--out', 'd1'],
      ['--env', 'PushCube-v1', '--episodes', '2', '--out', 'd1'],
      ['--model', 'model', '--env', 'PushCube-v1', '--episodes', '2'],
      ['--model', 'model', '--env', 'PushCube-v1', '--episodes', '0', '--out', 'd1'],
      ['--model', 'model', '--env', 'PushCube-v1', '--policy', 'replay', '--out', 'd1'],
      ['--model', 'model', '--env', 'PushCube-v1', '--horizon', '0', '--out', 'd1'],
      ['--model', 'model', '--env', 'PushCube-v1', '--format', 'nope', '--out', 'd1'],
      ['--model', 'model', '--env', 'PushCube-v1', '--codec', 'nope', '--out', 'd1'],
      ['--model', 'model', '--env', 'CartPole-v1', '--out', 'd1'],
      ['--model', 'nowhere', '--env', 'PushCube-v1', '--out', 'd1'],
    ];
    for (const args of bad) await expect(run('dream', args, dir), args.join(' ')).rejects.toMatchObject({ name: 'TrajforgeError', code: 'E_USAGE' });
  });

  it('dreamEpisodes batches episodes through the model and ends them on the done head or the horizon', async () => {
    const env = await createEnv(loadEnv('PushCube-v1'));
    const L = card.latent;
    const P = card.decoded.width * card.decoded.height * 3;
    const calls: number[] = [];
    // A fake model: z[0] counts steps (plus the episode's start value), done once it reaches 3.
    const model: DreamModel = {
      card,
      encode: async (_x, n) => {
        const z = new Float32Array(n * L);
        for (let k = 0; k < n; k++) z[k * L] = k; // episode k starts at k: ends after 3 - k steps (>= 1)
        return z;
      },
      decode: async (_z, n) => new Float32Array(n * P).fill(0.5),
      decodeRgb: async (_z, offset, n) => Uint8Array.from(offset.subarray(0, n * P), (o) => Math.min(255, Math.max(0, Math.round(255 * (0.5 + o))))),
      step: async (z, _a, n) => {
        calls.push(n);
        const next = z.slice();
        const done = new Float32Array(n);
        for (let k = 0; k < n; k++) {
          next[k * L] = z[k * L]! + 1;
          done[k] = next[k * L]! >= 3 ? 0.9 : 0.1;
        }
        return { next, reward: new Float32Array(n).fill(0.25), done };
      },
    };
    const eps: EpisodeData[] = [];
    const jobs = [0, 1, 2, 3].map((k) => ({ episode: k, seed: episodeSeed(0, k) }));
    for await (const ep of dreamEpisodes({ model, env, renderer: new Renderer(), makePolicy: () => makePolicy('random', env), jobs, horizon: 2, batch: 3 })) eps.push(ep);
    env.close();
    expect(eps.map((e) => e.episode)).toEqual([0, 1, 2, 3]);
    // Rows 0-2 start episodes 0-2: episode 0 hits the horizon (truncated), 1 ends at step 2, 2 at step 1.
    // Continuous batching: episode 3 starts in episode 2's row after step 1 (encoded alone, so it starts at 0), and is truncated.
    expect(eps.map((e) => e.length)).toEqual([2, 2, 1, 2]);
    expect(eps.map((e) => Array.from(e.terminated))).toEqual([[0, 0], [0, 1], [1], [0, 0]]);
    expect(eps.map((e) => Array.from(e.truncated))).toEqual([[0, 1], [0, 0], [0], [0, 1]]);
    expect(Array.from(eps[1]!.success)).toEqual([0, 1]);
    expect(calls).toEqual([3, 3, 1]);
    expect(Array.from(eps[0]!.rewards)).toEqual([0.25, 0.25]);
    // Residual decoding with a constant decoder reproduces the start frame (to float32 rounding of the offset).
    const f = eps[0]!.frames[0]!.data;
    const off = Array.from(f.subarray(P, 2 * P), (v, i) => Math.abs(v - f[i]!));
    expect(Math.max(...off)).toBeLessThanOrEqual(1);
    expect(off.filter((d) => d > 0).length).toBeLessThan(P / 20);
    expect(eps[0]!.finalFrames[0]!.data.length).toBe(P);
    expect(eps[0]!.cameras[0]!.positions.length).toBe(3 * 3);
  });
});
