import { describe, expect, it } from 'vitest';
import { copyLastBaseline, evaluateWorldModel } from '../../../../src/model/evaluate.js';
import { fitLinearHeads, fitLinearOnnx, fitLinearWorldModel, linearAsLatentModel } from '../../../../src/model/linear/model.js';
import { matrix } from '../../../../src/model/linalg.js';
import { linearProbeR2 } from '../../../../src/model/metrics.js';
import { episodeRows, pickRows, transitionsFromEpisodes, type Transitions } from '../../../../src/model/transitions.js';
import { SIZE, toyEpisode } from '../toy.js';

describe('PCA + bilinear-ridge world model (baseline)', () => {
  const episodes = Array.from({ length: 60 }, (_, k) => toyEpisode(k));
  const t = transitionsFromEpisodes(episodes, { camera: 'main' });
  const train = Array.from({ length: 48 }, (_, i) => i);
  const test = Array.from({ length: 12 }, (_, i) => 48 + i);
  const model = fitLinearWorldModel(t, train, { latent: 24, seed: 1 });

  it('shapes episodes into frame/state/action rows (T + 1 frames per episode)', () => {
    expect(t.frames.rows).toBe(60 * 31);
    expect(t.actions.rows).toBe(60 * 30);
    expect(t.frameStarts[2]).toBe(62);
    expect(t.states.data[62 * 2 + 0]).toBeCloseTo(episodes[2]!.obs[0]!, 5);
    expect(t.frames.data[0]).toBeCloseTo(episodes[0]!.frames[0]!.data[0]! / 255, 12);
    const last = 31 * 2 - 1; // episode 1's final frame row
    expect(t.frames.data[last * t.frames.cols]).toBeCloseTo(episodes[1]!.finalFrames[0]!.data[0]! / 255, 12);
  });

  it('downsampling box-filters frames', () => {
    const half = transitionsFromEpisodes(episodes.slice(0, 1), { camera: 'main', downsample: 2 });
    expect(half.width).toBe(8);
    const src = episodes[0]!.frames[0]!.data;
    const mean = (src[0]! + src[3]! + src[SIZE * 3]! + src[SIZE * 3 + 3]!) / 4 / 255;
    expect(half.frames.data[0]).toBeCloseTo(mean, 12);
    expect(() => transitionsFromEpisodes(episodes, { camera: 'main', downsample: 3 })).toThrow(/dividing 16x16/);
    expect(() => transitionsFromEpisodes(episodes, { camera: 'nope' })).toThrow(/camera "nope"/);
  });

  it('beats copy-last-frame open loop on held-out episodes', async () => {
    const inputs = { t, trainEpisodes: train, heldoutEpisodes: test, horizon: 10, positionColumns: [0, 1], stateColumns: [0, 1] };
    const r = await evaluateWorldModel(linearAsLatentModel(model), inputs);
    const copy = copyLastBaseline(inputs);
    expect(r.openLoop.windows).toBe(12 * 21);
    expect(copy.windows).toBe(12 * 21);
    expect(r.openLoop.trueActions.mse[0]!).toBeLessThan(0.8 * copy.mse[0]!);
    expect(r.openLoop.trueActions.mse[9]!).toBeLessThan(0.8 * copy.mse[9]!);
  });

  // PCA of a moving square is not linear in its position, so this is well below the 0.9 the
  // learned model must reach; it must still be far above zero.
  it('its latent linearly encodes the square position (R² ~0.78)', async () => {
    const rows = episodeRows(t, test).frames;
    const z = await linearAsLatentModel(model).encode(Float32Array.from(pickRows(t.frames, rows).data), rows.length);
    expect(linearProbeR2(matrix(rows.length, 24, z), pickRows(t.states, rows))).toBeGreaterThan(0.7);
  });

  // Transitions.frames is a float64 matrix of every frame (5.7 GB for 58k frames at 64x64): the
  // fits gather the rows they use from the camera bytes instead.
  const withoutFrames = (x: Transitions): Transitions =>
    new Proxy(x, {
      get: (target, key) => {
        if (key === 'frames') throw new Error('Transitions.frames was built');
        return Reflect.get(target, key) as unknown;
      },
    });
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  it('the onnxruntime fit (float32 products) agrees with the float64 one, heads included, without Transitions.frames', async () => {
    const fresh = transitionsFromEpisodes(episodes, { camera: 'main' });
    const { model: onnx, heads } = await fitLinearOnnx(withoutFrames(fresh), train, { latent: 24, seed: 1 });
    const reference = fitLinearWorldModel(withoutFrames(fresh), train, { latent: 24, seed: 1 });
    const referenceHeads = fitLinearHeads(reference, withoutFrames(fresh), train);
    expect([onnx.width, onnx.inputWidth, onnx.pca.components.rows]).toEqual([SIZE, SIZE, 24]);
    // float32 products leave the components and everything fitted on them within ~1e-6 (measured 4e-7).
    expect(maxDiff(onnx.pca.components.data, reference.pca.components.data)).toBeLessThan(1e-5);
    for (let c = 0; c < 24; c++) expect(onnx.pca.explainedVariance[c]! / reference.pca.explainedVariance[c]!).toBeCloseTo(1, 5);
    // One-step predictions and heads on held-out transitions.
    const rows = episodeRows(t, test);
    const z = await linearAsLatentModel(reference).encode(Float32Array.from(pickRows(t.frames, rows.current).data), rows.current.length);
    const a = Float32Array.from(pickRows(t.actions, rows.actions).data);
    const next = (m: typeof onnx) => linearAsLatentModel(m).step(z, a, rows.current.length);
    const scale = Math.sqrt(reference.pca.explainedVariance[0]!);
    expect(maxDiff((await next(onnx)).next, (await next(reference)).next) / scale).toBeLessThan(1e-4);
    expect(maxDiff(heads.reward.weights.data, referenceHeads.reward.weights.data)).toBeLessThan(1e-4);
    expect(maxDiff(heads.done.weights.data, referenceHeads.done.weights.data)).toBeLessThan(1e-4);
    expect(heads.done.bias[0]).toBeCloseTo(referenceHeads.done.bias[0]!, 5);
  });

  it('the onnxruntime fit is deterministic for a seed', async () => {
    const fit = async () => (await fitLinearOnnx(t, train, { latent: 12, seed: 4, maxFitFrames: 500 })).model;
    const [a, b] = [await fit(), await fit()];
    expect(Buffer.from(a.pca.components.data.buffer).equals(Buffer.from(b.pca.components.data.buffer))).toBe(true);
    expect(Buffer.from(a.dynamics.forward.weights.data.buffer).equals(Buffer.from(b.dynamics.forward.weights.data.buffer))).toBe(true);
  });
});
