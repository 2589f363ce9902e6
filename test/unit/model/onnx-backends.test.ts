import { describe, expect, it } from 'vitest';
import { initialState, prepareConvData, runTraining, type ConvOptions } from '../../../src/model/conv/train.js';
import { OnnxModel, onnxBackend } from '../../../src/model/onnx/runtime.js';
import { transitionsFromEpisodes } from '../../../src/model/transitions.js';
import { mlpGraph, twoHeadsGraph } from '../../helpers/onnx-graphs.js';
import { toyEpisode } from './toy.js';

/**
 * The two onnxruntime builds behind OnnxModel: the native one (onnxruntime-node, an optional
 * dependency) and WebAssembly (onnxruntime-web, what an install without the native one runs).
 * Same graphs, same feeds: the same numbers to float32 rounding.
 */
describe('onnxruntime backends', () => {
  it('auto picks the native runtime when it is installed (as in this repository)', async () => {
    expect(await onnxBackend('auto')).toBe('native');
    expect(await onnxBackend('wasm')).toBe('wasm');
  });

  it('runs the same inference graphs to the same outputs', async () => {
    for (const { bytes, feeds } of [
      { bytes: mlpGraph().bytes, feeds: { x: { data: Float32Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i)), dims: [4, 6] } } },
      {
        bytes: twoHeadsGraph().bytes,
        feeds: { obs: { data: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i)), dims: [3, 4] }, act: { data: Float32Array.from({ length: 6 }, (_, i) => i / 6 - 0.5), dims: [3, 2] } },
      },
    ]) {
      const native = await OnnxModel.load(bytes, { backend: 'native' });
      const wasm = await OnnxModel.load(bytes, { backend: 'wasm' });
      expect([native.backend, wasm.backend]).toEqual(['native', 'wasm']);
      const a = await native.run(feeds);
      const b = await wasm.run(feeds);
      for (const name of native.outputNames) {
        expect(b[name]!.dims).toEqual(a[name]!.dims);
        Array.from(a[name]!.data).forEach((v, i) => expect(b[name]!.data[i]).toBeCloseTo(v, 5));
      }
      await native.release();
      await wasm.release();
    }
  });

  it('trains the conv world model on either: the same losses step by step', async () => {
    const episodes = Array.from({ length: 6 }, (_, k) => toyEpisode(k));
    const t = transitionsFromEpisodes(episodes, { camera: 'main' });
    const train = [0, 1, 2, 3, 4, 5];
    const bounds = { low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) };
    const o: ConvOptions = { latent: 12, hidden: 16, depth: 4, batch: 4, rollout: 2, steps: 3, learningRate: 1e-3, stateWeight: 1, inverseWeight: 50, coords: 1, keypoints: 2, context: 2, decoderMaps: 1, augmentChroma: 0, seed: 5 };
    const losses = async (backend: 'native' | 'wasm') => {
      const d = await prepareConvData(t, train, bounds, o, { backend });
      const out: number[] = [];
      await runTraining(d, o, initialState(d.frame.shape, o.seed), { onStep: (r) => out.push(r.losses.total!) }, { backend });
      return out;
    };
    const native = await losses('native');
    const wasm = await losses('wasm');
    expect(native).toHaveLength(3);
    native.forEach((v, i) => expect(Math.abs(wasm[i]! - v) / Math.abs(v)).toBeLessThan(1e-3));
  }, 60_000);
});
