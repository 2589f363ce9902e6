import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { bilinearFeatures } from '../../../src/model/linear/bilinear.js';
import { applyAffine, matrix } from '../../../src/model/linalg.js';
import { copyLastBaseline, evaluateWorldModel, type EvaluationInputs, type LatentWorldModel } from '../../../src/model/evaluate.js';
import { cardParts, decoderBytesFragment, PART_NAMES, partSignatures, type PartName } from '../../../src/model/export.js';
import { exportLatentModel } from '../../../src/model/keypoints/export.js';
import { latentModelInTypeScript } from '../../../src/model/keypoints/model.js';
import { trainLatentModel } from '../../../src/model/keypoints/train.js';
import { exportLinearModel } from '../../../src/model/linear/export.js';
import { fitLinearHeads, fitLinearWorldModel, linearAsLatentModel } from '../../../src/model/linear/model.js';
import { Adam, apply, backward, clearGrads, createMlp, forward, gradientList, parameterList, zeroGrads } from '../../../src/model/nn.js';
import { WorldModelSession } from '../../../src/model/session.js';
import { readModelCard, readModelParts, saveModel } from '../../../src/model/store.js';
import type { ModelCard } from '../../../src/model/card.js';
import { encoderInput, transitionsFromEpisodes } from '../../../src/model/transitions.js';
import { atBatch, runDeclared } from '../../helpers/onnx.js';
import { toyTraining } from '../../helpers/world-model.js';

describe('dense networks (nn.ts)', () => {
  it('backward matches central finite differences for every parameter kind and activation', () => {
    const rng = new Rng(3);
    for (const act of ['relu', 'tanh', 'sigmoid', 'linear'] as const) {
      const mlp = createMlp([4, 5, 3], act, act === 'relu' ? 'linear' : act, rng);
      for (const l of mlp) for (let i = 0; i < l.bias.length; i++) l.bias[i] = rng.normal() * 0.3;
      const n = 3;
      const x = Float32Array.from({ length: n * 4 }, () => rng.normal());
      const target = Float32Array.from({ length: n * 3 }, () => rng.normal());
      // Loss = sum((y - target)^2); float64 re-evaluation via apply keeps the check honest.
      const loss = () => apply(mlp, x, n).reduce((s, v, i) => s + (v - target[i]!) ** 2, 0);
      const { y, tape } = forward(mlp, x, n);
      const grads = zeroGrads(mlp);
      const dx = backward(mlp, tape, y.map((v, i) => 2 * (v - target[i]!)), grads);
      const params = parameterList([mlp]);
      const g = gradientList([grads]);
      let checked = 0;
      for (let p = 0; p < params.length; p++) {
        for (let i = 0; i < params[p]!.length; i += 3) {
          const keep = params[p]![i]!;
          params[p]![i] = keep + 1e-2;
          const up = loss();
          params[p]![i] = keep - 1e-2;
          const down = loss();
          params[p]![i] = keep;
          expect(g[p]![i]!).toBeCloseTo((up - down) / 2e-2, 1);
          checked++;
        }
      }
      // Input gradient too.
      const keep = x[1]!;
      x[1] = keep + 1e-2;
      const up = loss();
      x[1] = keep - 1e-2;
      const down = loss();
      x[1] = keep;
      expect(dx[1]!).toBeCloseTo((up - down) / 2e-2, 1);
      expect(checked).toBeGreaterThan(10);
    }
  });

  it('Adam fits a nonlinear regression (loss falls by > 20x)', () => {
    const rng = new Rng(5);
    const mlp = createMlp([2, 32, 1], 'tanh', 'linear', rng);
    const grads = zeroGrads(mlp);
    const adam = new Adam(parameterList([mlp]), 1e-2);
    const n = 64;
    const x = Float32Array.from({ length: n * 2 }, () => rng.uniform(-1, 1));
    const y = Float32Array.from({ length: n }, (_, i) => Math.sin(3 * x[2 * i]!) * x[2 * i + 1]!);
    const mse = () => apply(mlp, x, n).reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / n;
    const before = mse();
    for (let it = 0; it < 400; it++) {
      const f = forward(mlp, x, n);
      clearGrads(grads);
      backward(mlp, f.tape, f.y.map((v, i) => (2 * (v - y[i]!)) / n), grads);
      adam.step(gradientList([grads]));
    }
    expect(mse()).toBeLessThan(before / 20);
  });
});

describe('latent world model on the toy task', () => {
  const { episodes, t, train, heldout, bounds, options, model, log } = toyTraining();
  const dir = mkdtempSync(join(tmpdir(), 'trajforge-wm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const inputs: EvaluationInputs = { t, trainEpisodes: train, heldoutEpisodes: heldout, horizon: 10, positionColumns: [0, 1], stateColumns: [0, 1] };

  it('training losses fall and the run is reproducible', () => {
    const state = log.filter((e) => e.phase === 'state');
    const dyn = log.filter((e) => e.phase === 'dynamics');
    expect(state.at(-1)!.loss).toBeLessThan(state[0]!.loss / 2);
    expect(dyn.at(-1)!.loss).toBeLessThan(dyn[0]!.loss);
    const again = trainLatentModel(t, train, bounds, { ...options, stateEpochs: 2, dynamicsEpochs: 1 });
    const twice = trainLatentModel(t, train, bounds, { ...options, stateEpochs: 2, dynamicsEpochs: 1 });
    expect(twice.log).toEqual(again.log);
    expect(twice.model.dynamics[0]!.weights).toEqual(again.model.dynamics[0]!.weights);
  });

  it('beats copy-last open loop, is controllable, decodes the state, and infers actions', async () => {
    const ev = await evaluateWorldModel(latentModelInTypeScript(model), inputs);
    const copy = copyLastBaseline(inputs);
    expect(ev.openLoop.trueActions.mse[0]!).toBeLessThan(copy.mse[0]!);
    expect(ev.openLoop.trueActions.mse[9]!).toBeLessThan(0.9 * copy.mse[9]!);
    expect(ev.openLoop.trueActions.psnr[9]! - ev.openLoop.shuffledActions.psnr[9]!).toBeGreaterThan(1);
    expect(ev.representation.probeR2).toBeGreaterThan(0.9);
    expect(ev.inverseR2).toBeGreaterThan(0.5);
    // The baseline runs through the same evaluation code.
    const linear = await evaluateWorldModel(linearAsLatentModel(fitLinearWorldModel(t, train, { latent: 16 })), inputs);
    expect(linear.openLoop.trueActions.mse[9]!).toBeLessThan(copy.mse[9]!);
  });

  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  };

  /** Loads the graphs, runs all four parts on n training rows next to the TypeScript model, checks 1e-4, returns both steps. */
  async function compareWithOnnx(parts: Record<PartName, Uint8Array>, ts: LatentWorldModel, latent: number, n: number, tt = t) {
    const card = {
      input: { width: tt.source.width, height: tt.source.height },
      decoded: { width: tt.width, height: tt.height },
      latent,
      action: { names: ['ax', 'ay'] },
      parts: cardParts({ inputWidth: tt.source.width, inputHeight: tt.source.height, width: tt.width, height: tt.height, latent, actionDim: 2 }),
    } as unknown as ModelCard;
    const onnx = await WorldModelSession.load(card, parts);
    const frames = encoderInput(
      tt,
      Array.from({ length: n }, (_, i) => i),
    );
    const actions = Float32Array.from(tt.actions.data.subarray(0, n * 2));
    const z = await ts.encode(frames, n);
    expect(maxDiff(await onnx.encode(frames, n), z)).toBeLessThan(1e-4);
    const decoded = await ts.decode(z, n);
    expect(maxDiff(await onnx.decode(z, n), decoded)).toBeLessThan(1e-4);
    // Bytes: round(255 · (decode + offset)) saturated, offsets reaching both ends.
    const offset = Float32Array.from(decoded, (_, i) => (((i * 37) % 301) - 150) / 255);
    const bytes = await onnx.decodeRgb(z, offset, n);
    const want = Uint8Array.from(decoded, (v, i) => Math.min(255, Math.max(0, Math.round(255 * (v + offset[i]!)))));
    expect(bytes.some((b) => b === 0) && bytes.some((b) => b === 255)).toBe(true);
    expect(maxDiff(bytes, want)).toBeLessThanOrEqual(1); // float32 vs float64, and half-to-even vs half-up
    const expected = await ts.step(z, actions, n);
    const got = await onnx.step(z, actions, n);
    expect(maxDiff(got.next, expected.next)).toBeLessThan(1e-4);
    expect(maxDiff(await onnx.inverse(z, expected.next, n), await ts.inverse(z, expected.next, n))).toBeLessThan(1e-4);
    await onnx.release();
    return { z, actions, expected, got };
  }

  it('the ONNX graphs compute what the training library computes (within 1e-4)', async () => {
    // 100 rows: the decoder runs in chunks of 64, the other parts in one.
    const { expected, got } = await compareWithOnnx(exportLatentModel(model), latentModelInTypeScript(model), model.latent, 100);
    expect(maxDiff(got.reward, expected.reward!)).toBeLessThan(1e-4);
    expect(maxDiff(got.done, expected.done!)).toBeLessThan(1e-4);
  });

  it('an encoder that downsamples: keypoints on the full frame, the stem on the box-filtered one, in ONNX as in TypeScript', async () => {
    const half = transitionsFromEpisodes(episodes, { camera: 'main', downsample: 2 });
    expect([half.source.width, half.width]).toEqual([16, 8]);
    const small = trainLatentModel(half, train, bounds, { ...options, latent: 20, stateEpochs: 2, dynamicsEpochs: 1 }).model;
    expect([small.inputWidth, small.width, small.keypoints!.width]).toEqual([16, 8, 16]);
    await compareWithOnnx(exportLatentModel(small), latentModelInTypeScript(small), small.latent, 20, half);
    const linear = fitLinearWorldModel(half, train, { latent: 10 });
    await compareWithOnnx(exportLinearModel(linear, fitLinearHeads(linear, half, train), 2), linearAsLatentModel(linear), 10, 20, half);
  });

  it('the linear baseline exports to the same four graphs and they match its TypeScript within 1e-4', async () => {
    const linear = fitLinearWorldModel(t, train, { latent: 12 });
    const heads = fitLinearHeads(linear, t, train);
    const n = 30;
    const { z, actions, got } = await compareWithOnnx(exportLinearModel(linear, heads, 2), linearAsLatentModel(linear), 12, n);
    for (const p of got.done) expect(p >= 0 && p <= 1).toBe(true);
    // Heads: the ridge maps applied to the same bilinear features.
    const features = bilinearFeatures(matrix(n, 12, z), matrix(n, 2, actions));
    expect(maxDiff(got.reward, Float32Array.from(applyAffine(heads.reward, features).data))).toBeLessThan(1e-4);
  });

  it('onnxruntime runs every exported graph at batch 3 with the declared input and output shapes', async () => {
    const linear = fitLinearWorldModel(t, train, { latent: 12 });
    const models = [
      { parts: exportLatentModel(model), sig: partSignatures(model) },
      { parts: exportLinearModel(linear, fitLinearHeads(linear, t, train), 2), sig: partSignatures({ inputWidth: t.width, inputHeight: t.height, width: t.width, height: t.height, latent: 12, actionDim: 2 }) },
    ];
    for (const { parts, sig } of models) for (const p of [...PART_NAMES, 'decoder+bytes' as const]) {
      // The decoder extended by WorldModelSession.decodeRgb must be a valid model too.
      const bytes = p === 'decoder+bytes' ? decoderBytesFragment(t.width, t.height).appendTo(parts.decoder) : parts[p];
      const run = await runDeclared(bytes, 3);
      const declared = p === 'decoder+bytes'
        ? { inputs: [...sig.decoder.inputs, { name: 'offset', shape: ['batch', t.height, t.width, 3] }], outputs: [...sig.decoder.outputs, { name: 'rgb', shape: ['batch', t.height, t.width, 3] }] }
        : sig[p];
      expect(Object.keys(run.inputs).sort(), p).toEqual(declared.inputs.map((i) => i.name).sort());
      for (const i of declared.inputs) expect(run.inputs[i.name]!.shape, `${p} ${i.name}`).toEqual(i.shape);
      expect(Object.keys(run.outputs).sort(), p).toEqual(declared.outputs.map((o) => o.name).sort());
      for (const o of declared.outputs) {
        const got = run.outputs[o.name]!;
        expect([got.shape, got.dims], `${p} ${o.name}`).toEqual([o.shape, atBatch(o.shape, 3)]);
        expect(Array.from(got.data).every(Number.isFinite), `${p} ${o.name}`).toBe(true);
      }
      if (p === 'decoder+bytes') expect(run.outputs.rgb!.type).toBe('uint8');
    }
  });

  it('model card round-trips through the model directory, and a broken card is rejected with its path', () => {
    const parts = exportLatentModel(model);
    const sig = partSignatures(model);
    const card: ModelCard = {
      format: 'trajforge-world-model',
      version: 2,
      id: '0123456789abcdef',
      kind: 'latent-mlp',
      created: '2026-11-29T00:00:00.000Z',
      dataset: { path: '/data/toy', env_id: 'Toy', config_hash: 'abc', episodes: 60, frames: t.frames.rows },
      camera: 'main',
      input: { width: t.width, height: t.height, channels: 3, layout: 'NHWC', range: [0, 1], downsample: 1 },
      decoded: { width: t.width, height: t.height },
      latent: model.latent,
      action: { names: ['ax', 'ay'], low: [-1, -1], high: [1, null] },
      state: { names: ['x', 'y'], latent_dims: [model.coefficients, model.coefficients + 1], mean: [...model.stateMean], std: [...model.stateStd] },
      split: { train, heldout },
      training: { seed: 1, seconds: 1.5, options: { latent: 18 }, final: { 'dynamics.loss': 0.1 } },
      parts: Object.fromEntries(PART_NAMES.map((p) => [p, { file: `${p}.onnx`, inputs: sig[p].inputs, outputs: sig[p].outputs }])) as ModelCard['parts'],
    };
    const modelDir = join(dir, 'model');
    saveModel(modelDir, card, parts);
    const back = readModelCard(modelDir);
    expect(back).toEqual(card);
    expect(readModelParts(modelDir, back).dynamics).toEqual(parts.dynamics);
    writeFileSync(join(modelDir, 'model.json'), JSON.stringify({ ...card, latent: -3 }));
    expect(() => readModelCard(modelDir)).toThrow(/model\.json.*latent/);
    writeFileSync(join(modelDir, 'model.json'), JSON.stringify({ ...card, version: 1 }));
    expect(() => readModelCard(modelDir)).toThrow(/version 1 is from an older trajforge.*retrain/);
  });
});
