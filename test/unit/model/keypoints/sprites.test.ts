import { describe, expect, it } from 'vitest';
import { Rng } from '../../../../src/core/rng.js';
import { colourKeypointFeatures, fitColourKeypoints } from '../../../../src/model/keypoints/colour-keypoints.js';
import { OnnxGraph } from '../../../../src/model/onnx/graph.js';
import { OnnxModel } from '../../../../src/model/onnx/runtime.js';
import { fitSprites, MASS_GATE, renderSprites, spriteGraph } from '../../../../src/model/keypoints/sprites.js';
import { transitionsFromEpisodes } from '../../../../src/model/transitions.js';
import { toyEpisode } from '../toy.js';

describe('sprite decoder', () => {
  const episodes = Array.from({ length: 40 }, (_, k) => toyEpisode(k, 30));
  const t = transitionsFromEpisodes(episodes, { camera: 'main' });
  const K = 3;
  const kp = fitColourKeypoints(t.source.data, t.frames.rows, t.source.width, t.source.height, K, { seed: 0, scale: 1 / 255 });
  const features = colourKeypointFeatures(kp, t.source.data, t.frames.rows, 1 / 255);
  const spans = (ids: number[]) => ids.map((e) => ({ start: t.frameStarts[e]!, steps: t.lengths[e]! }));
  const train = episodes.map((_, i) => i).filter((i) => i % 4 !== 3);
  const heldout = episodes.map((_, i) => i).filter((i) => i % 4 === 3);
  const sprites = fitSprites(t.frames.data, features, K, t.width, t.height, spans(train), { size: 7, pairs: 1500, seed: 2 });
  const D = t.frames.cols;

  it('explains how held-out frames change from where the keypoints went (> 78 % of the change energy)', () => {
    let err = 0;
    let change = 0;
    for (const e of heldout) {
      for (let s = 0; s + 3 <= t.lengths[e]!; s++) {
        const a = t.frameStarts[e]! + s;
        const b = a + 3;
        const [ra, rb] = [a, b].map((r) => renderSprites(sprites, features.subarray(r * 3 * K, (r + 1) * 3 * K), 1));
        for (let i = 0; i < D; i++) {
          const truth = t.frames.data[b * D + i]! - t.frames.data[a * D + i]!;
          err += (rb![i]! - ra![i]! - truth) ** 2;
          change += truth ** 2;
        }
      }
    }
    expect(err / change).toBeLessThan(0.22);
  });

  it('absolute decodes look like the frame (background + sprites beat the mean frame by > 3x)', () => {
    const mean = new Float64Array(D);
    for (let r = 0; r < t.frames.rows; r++) for (let i = 0; i < D; i++) mean[i]! += t.frames.data[r * D + i]! / t.frames.rows;
    let spriteErr = 0;
    let meanErr = 0;
    for (const e of heldout) {
      const r = t.frameStarts[e]!;
      const x = renderSprites(sprites, features.subarray(r * 3 * K, (r + 1) * 3 * K), 1);
      for (let i = 0; i < D; i++) {
        spriteErr += (x[i]! - t.frames.data[r * D + i]!) ** 2;
        meanErr += (mean[i]! - t.frames.data[r * D + i]!) ** 2;
      }
    }
    expect(spriteErr * 3).toBeLessThan(meanErr);
  });

  it('fades a sprite out with its keypoint mass: an absent colour draws nothing', () => {
    const present = Float32Array.of(0.05, 0.5, 0.5, MASS_GATE / 2, 0.3, 0.3, 0, 0.7, 0.2);
    const halfGate = renderSprites(sprites, present, 1);
    const absent = renderSprites(sprites, Float32Array.of(0.05, 0.5, 0.5, 0, 0.3, 0.3, 0, 0.7, 0.2), 1);
    const only = renderSprites(sprites, Float32Array.of(0.05, 0.5, 0.5, 0, 0, 0, 0, 0, 0), 1);
    expect(absent).toEqual(only);
    // Half the gate: exactly half of the second sprite's contribution.
    const full = renderSprites(sprites, Float32Array.of(0.05, 0.5, 0.5, MASS_GATE, 0.3, 0.3, 0, 0.7, 0.2), 1);
    for (let i = 0; i < D; i++) expect(halfGate[i]! - absent[i]!).toBeCloseTo((full[i]! - absent[i]!) / 2, 5);
    expect(full.some((v, i) => Math.abs(v - absent[i]!) > 1e-3)).toBe(true);
  });

  it('the ONNX graph draws what the TypeScript reference draws (within 1e-5), at the borders too', async () => {
    const rng = new Rng(9);
    const n = 24;
    const input = new Float32Array(n * 3 * K);
    for (let i = 0; i < n * K; i++) {
      input[i * 3] = i % 5 === 0 ? 0 : rng.uniform(0, 3 * MASS_GATE);
      input[i * 3 + 1] = rng.uniform(-0.2, 1.2);
      input[i * 3 + 2] = rng.uniform(-0.2, 1.2);
    }
    // All keypoints drawn, and two of three (the graph gathers the drawn ones).
    const two = fitSprites(t.frames.data, features, K, t.width, t.height, spans(train), { size: 5, keep: 2, pairs: 500, seed: 2 });
    expect(two.drawn).toHaveLength(2);
    for (const s of [sprites, two]) {
      const g = new OnnxGraph('sprites');
      const x = g.input('keypoints', ['batch', 3 * K]);
      g.output(spriteGraph(g, x, s), 'frames', ['batch', t.height, t.width, 3]);
      const model = await OnnxModel.load(g.toBytes());
      const out = await model.run({ keypoints: { data: input, dims: [n, 3 * K] } });
      const want = renderSprites(s, input, n);
      const got = out.frames!.data as Float32Array;
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-5);
      await model.release();
    }
  });
});
