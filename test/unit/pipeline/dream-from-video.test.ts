import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { dreamDataset } from '../../../src/pipeline/dream.js';
import { readStartFrames } from '../../../src/pipeline/start-frames.js';
import { OnnxGraph } from '../../../src/model/onnx/graph.js';
import { readModelCard } from '../../../src/model/store.js';
import { readResampled } from '../../../src/video/resample.js';
import { writeClip } from '../../../src/video/clip.js';
import { squareFrames, writeCentroidModel } from '../../helpers/analytic-model.js';
import { tmpDir } from '../../helpers/dataset.js';

describe('dream --from-video', () => {
  it('starts each dream from a frame of the video, evenly spaced over it, and records which', async () => {
    const root = tmpDir('tf-dream-video-');
    const model = join(root, 'model');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 4 });
    // 25 frames of a square moving right at 96x96, 20 fps: resampled to the model's 64x64.
    const actions = new Float32Array(48).map((_, i) => (i % 2 === 0 ? 0.5 : 0));
    const { frames, count } = squareFrames(96, 96, 12, [24, 48], actions, 3);
    const video = join(root, 'clip.mp4');
    writeClip(video, frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    const expected = await readResampled(video, { width: 64, height: 64, fps: 20 });
    expect(expected.frames).toBe(25);

    const out = join(root, 'dreamed');
    const s = await dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 4, horizon: 5, fromVideo: video, codec: 'lossless' });
    expect(s.episodes).toBe(4);
    const P = 64 * 64 * 3;
    const starts: number[] = [];
    for await (const ep of readLeRobotEpisodes(out)) {
      const first = (ep.frames[0]!.data as Uint8Array).subarray(0, P);
      // Episode k starts from output frame floor(k · 25 / 4): 0, 6, 12, 18.
      const k = ep.episode;
      const index = Math.floor((k * 25) / 4);
      expect(Buffer.from(first).equals(Buffer.from(expected.data.subarray(index * P, (index + 1) * P)))).toBe(true);
      expect(ep.provenance).toMatchObject({ file: video, fromFrame: index, toFrame: index, sourceFps: 20, sourceWidth: 96, sourceHeight: 96 });
      starts.push(index);
    }
    expect(starts).toEqual([0, 6, 12, 18]);
    const lines = readFileSync(join(out, 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.provenance.from_frame)).toEqual([0, 6, 12, 18]);
    // Each start comes with the frame before it (the first is its own): a context-2 encoder sees the video's motion there.
    const picked = await readStartFrames(video, readModelCard(model), 20, 4);
    expect(picked.count).toBe(4);
    [0, 6, 12, 18].forEach((index, j) => {
      const before = Math.max(0, index - 1);
      expect(Buffer.from(picked.frames.subarray(j * P, (j + 1) * P)).equals(Buffer.from(expected.data.subarray(index * P, (index + 1) * P)))).toBe(true);
      expect(Buffer.from(picked.previous.subarray(j * P, (j + 1) * P)).equals(Buffer.from(expected.data.subarray(before * P, (before + 1) * P))), `start ${index}`).toBe(true);
    });
  }, 120_000);

  it('refuses an unreadable video with nothing written', async () => {
    const root = tmpDir('tf-dream-video-');
    const model = join(root, 'model');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 4 });
    const bad = join(root, 'bad.mp4');
    writeFileSync(bad, 'not a video');
    const out = join(root, 'dreamed');
    await expect(dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 2, fromVideo: bad })).rejects.toMatchObject({ code: 'E_VIDEO_INVALID', message: expect.stringContaining(bad) });
    expect(existsSync(out)).toBe(false);
    await expect(dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 2, fit: 'pad' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('dream --from-video without an environment (a model of another tool\'s dataset)', () => {
  /** The centroid model, its card naming a robot trajforge has no environment for. */
  const foreignModel = (root: string, bounded = true) => {
    const model = join(root, bounded ? 'model' : 'unbounded');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 4, dataset: { env_id: 'koch_push', config_hash: 'e'.repeat(64), episodes: 10, frames: 130, fps: 20 } });
    if (!bounded) {
      const file = join(model, 'model.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as { action: { low: (number | null)[]; high: (number | null)[] } };
      json.action.low = [null, null];
      json.action.high = [null, null];
      writeFileSync(file, JSON.stringify(json));
    }
    return model;
  };
  const clip = (root: string) => {
    const { frames, count } = squareFrames(64, 64, 8, [20, 30], new Float32Array(20).fill(0.5), 2);
    const video = join(root, 'clip.mp4');
    writeClip(video, frames, count, { width: 64, height: 64, fps: 20, profile: 'lossless' });
    return video;
  };

  it('runs in the model alone: the state estimate moves by the dynamics under the policy, the horizon is the training episodes\' mean length', async () => {
    const root = tmpDir('tf-dream-envless-');
    const model = foreignModel(root);
    const video = clip(root);
    const notices: string[] = [];
    const out = join(root, 'random');
    const s = await dreamDataset({ model, out, episodes: 3, fromVideo: video, codec: 'lossless', threads: 1, onNotice: (m) => notices.push(m) });
    expect(notices.join('\n')).toContain('records no environment config');
    expect(s).toMatchObject({ envId: 'koch_push', episodes: 3, horizon: 12, policy: 'random', frames: 36 });
    const side = JSON.parse(readFileSync(join(out, 'meta', 'trajforge.json'), 'utf8')) as Record<string, unknown>;
    expect(side).toMatchObject({ env_id: 'koch_push', fps: 20, observation_names: ['centroid.x', 'centroid.y'], source: { kind: 'world-model' } });
    expect(side.config).toBeUndefined();
    const P = 64 * 64 * 3;
    const actionsSeen: number[] = [];
    for await (const ep of readLeRobotEpisodes(out)) {
      expect(ep.length).toBe(12);
      expect(ep.truncated[11]).toBe(1);
      for (let t = 0; t < 11; t++) {
        for (let i = 0; i < 2; i++) {
          const a = ep.actions[t * 2 + i]!;
          actionsSeen.push(a);
          expect(a).toBeGreaterThanOrEqual(-1);
          expect(a).toBeLessThanOrEqual(1);
          // z' = z + 4 a: the observation is the model's own state estimate (the centroid).
          expect(ep.obs[(t + 1) * 2 + i]! - ep.obs[t * 2 + i]!).toBeCloseTo(4 * a, 3);
        }
      }
      // The centroid decoder draws nothing: every residual-decoded frame is the start frame.
      const frames = ep.frames[0]!.data as Uint8Array;
      expect(Buffer.from(frames.subarray(11 * P, 12 * P)).equals(Buffer.from(frames.subarray(0, P)))).toBe(true);
    }
    expect(new Set(actionsSeen.map((a) => a.toFixed(3))).size).toBeGreaterThan(20);

    // An ONNX policy over the state estimate: u = 1.6 − 0.05 · centroid pulls the square to (32, 32).
    const policy = join(root, 'centre.onnx');
    const g = new OnnxGraph('centre');
    const x = g.input('observation', ['batch', 2]);
    g.output(g.gemm(x, { inputs: 2, outputs: 2, weights: Float32Array.of(-0.05, 0, 0, -0.05), bias: Float32Array.of(1.6, 1.6), activation: 'linear' }), 'action', ['batch', 2]);
    writeFileSync(policy, g.toBytes());
    const steered = join(root, 'steered');
    await dreamDataset({ model, out: steered, episodes: 1, horizon: 30, fromVideo: video, policy: { kind: 'onnx', file: policy }, threads: 1 });
    let steeredEpisodes = 0;
    for await (const ep of readLeRobotEpisodes(steered)) {
      steeredEpisodes++;
      expect(ep.obs[0]).toBeCloseTo(20, 0);
      expect(ep.actions[0]).toBeCloseTo(Math.min(1, 1.6 - 0.05 * ep.obs[0]!), 4);
      expect(ep.finalObs[0]).toBeCloseTo(32, 0);
      expect(ep.finalObs[1]).toBeCloseTo(32, 0);
    }
    expect(steeredEpisodes).toBe(1);
  }, 120_000);

  it('asks for what it cannot do without an environment, writing nothing', async () => {
    const root = tmpDir('tf-dream-envless-');
    const video = clip(root);
    const out = join(root, 'none');
    await expect(dreamDataset({ model: foreignModel(root), out, episodes: 1 })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('--from-video') });
    await expect(dreamDataset({ model: foreignModel(root), out, episodes: 1, fromVideo: video, policy: { kind: 'expert' } })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('random or onnx') });
    // No action bounds (another tool's dataset): no range to draw random actions from.
    await expect(dreamDataset({ model: foreignModel(root, false), out, episodes: 1, fromVideo: video })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('onnx:PATH') });
    expect(existsSync(out)).toBe(false);
  });
});
