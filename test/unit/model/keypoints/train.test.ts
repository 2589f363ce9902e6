import { describe, expect, it } from 'vitest';
import { Rng } from '../../../../src/core/rng.js';
import { exportLatentModel } from '../../../../src/model/keypoints/export.js';
import {
  actionNormalisation,
  assembleLatentModel,
  DEFAULT_LATENT_OPTIONS,
  encodeLatents,
  fitKeypoints,
  fitStem,
  stateHeadInput,
  stateTargets,
  trainDynamics,
  trainLatentModel,
  trainStateHead,
} from '../../../../src/model/keypoints/train.js';
import { apply } from '../../../../src/model/nn.js';
import { episodeRows, transitionsFromEpisodes } from '../../../../src/model/transitions.js';
import { SIZE, toyEpisode } from '../toy.js';

/** Each phase of trainLatentModel called on its own, on the toy task (a square moved by a 2-D action). */
describe('keypoint model training phases', () => {
  const episodes = Array.from({ length: 30 }, (_, k) => toyEpisode(k, 20));
  const t = transitionsFromEpisodes(episodes, { camera: 'main' });
  const train = episodes.map((_, i) => i).filter((i) => i % 5 !== 4);
  const rows = episodeRows(t, train);
  const bounds = { low: Float32Array.of(-1, -1), high: Float32Array.of(1, 1) };
  const o = { ...DEFAULT_LATENT_OPTIONS, latent: 24, keypoints: 3, hidden: 32, stateEpochs: 8, dynamicsEpochs: 4, seed: 2 };
  const n = t.frames.rows;
  const pixels = SIZE * SIZE * 3;

  it('fitStem: coefficients for every frame that reconstruct the training frames far better than their mean', () => {
    const stem = fitStem(t, rows.frames, o, new Rng(o.seed));
    // The latent keeps room for 2 state dims (the square's position) and 3 per keypoint.
    expect(stem.size).toBe(o.latent - 2 - 3 * o.keypoints);
    expect(stem.rows).toHaveLength(Math.min(o.stemFrames, rows.frames.length));
    expect(new Set(stem.rows).size).toBe(stem.rows.length);
    expect(stem.down).toMatchObject({ inputs: pixels, outputs: stem.size });
    expect(stem.up).toMatchObject({ inputs: stem.size, outputs: pixels });
    expect(stem.coefficients).toHaveLength(n * stem.size);
    const x = Float32Array.from(t.frames.data);
    const back = apply([stem.up], stem.coefficients, n);
    const mean = new Float64Array(pixels);
    for (const r of rows.frames) for (let i = 0; i < pixels; i++) mean[i]! += x[r * pixels + i]! / rows.frames.length;
    let residual = 0;
    let spread = 0;
    for (const r of rows.frames) {
      for (let i = 0; i < pixels; i++) {
        residual += (back[r * pixels + i]! - x[r * pixels + i]!) ** 2;
        spread += (mean[i]! - x[r * pixels + i]!) ** 2;
      }
    }
    expect(residual).toBeLessThan(0.2 * spread);
  });

  it('fitKeypoints and stateTargets: standardised features and targets for every frame', () => {
    const stem = fitStem(t, rows.frames, o, new Rng(o.seed));
    const kp = fitKeypoints(t, train, rows.frames, stem.rows, o);
    expect(kp.size).toBe(3 * o.keypoints);
    expect(kp.features).toHaveLength(n * kp.size);
    expect(kp.sprites).toBeDefined();
    const targets = stateTargets(t, rows.frames, o);
    expect(targets.columns).toEqual([0, 1]);
    expect(targets.targets).toHaveLength(n * 2);
    for (const [data, cols] of [
      [targets.targets, 2],
      [kp.features, kp.size],
    ] as const) {
      for (let c = 0; c < cols; c++) {
        const v = rows.frames.map((r) => data[r * cols + c]!);
        const m = v.reduce((s, x) => s + x, 0) / v.length;
        const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
        expect(Math.abs(m)).toBeLessThan(1e-3);
        // Features that never vary keep std 1 and stay at 0.
        if (sd > 1e-6) expect(sd).toBeCloseTo(1, 2);
      }
    }
    expect(stateTargets(t, rows.frames, { stateWeight: 0 }).columns).toEqual([]);
  });

  it('trainStateHead: one log entry per epoch, the loss falls, and the head outputs the state dims', () => {
    const stem = fitStem(t, rows.frames, o, new Rng(o.seed));
    const kp = fitKeypoints(t, train, rows.frames, stem.rows, o);
    const targets = stateTargets(t, rows.frames, o);
    const input = stateHeadInput(stem, kp, n);
    expect(input.width).toBe(stem.size + kp.size);
    const seen: number[] = [];
    const state = trainStateHead(input, targets, rows.frames, o, new Rng(7), (e) => seen.push(e.epoch));
    expect(state.log.map((e) => e.phase)).toEqual(Array(o.stateEpochs).fill('state'));
    expect(seen).toEqual(state.log.map((e) => e.epoch));
    expect(state.log.at(-1)!.loss).toBeLessThan(state.log[0]!.loss / 2);
    expect(state.head[0]!.inputs).toBe(input.width);
    expect(state.head.at(-1)!.outputs).toBe(2);
    const latents = encodeLatents(stem, kp, state.head, input, targets.columns.length, n);
    expect(latents).toMatchObject({ size: o.latent, coefficients: stem.size, state: 2, keypoints: kp.size });
    expect(latents.z).toHaveLength(n * o.latent);
    // z = [coefficients, state estimate, keypoint features], row by row.
    const r = rows.frames[5]!;
    const zr = latents.z.subarray(r * o.latent, (r + 1) * o.latent);
    expect(zr.subarray(0, stem.size)).toEqual(stem.coefficients.subarray(r * stem.size, (r + 1) * stem.size));
    expect(zr.subarray(o.latent - kp.size)).toEqual(kp.features.subarray(r * kp.size, (r + 1) * kp.size));
  });

  it('trainDynamics: the latent loss falls on fixed latents, with per-dim step scales', () => {
    const stem = fitStem(t, rows.frames, o, new Rng(o.seed));
    const kp = fitKeypoints(t, train, rows.frames, stem.rows, o);
    const targets = stateTargets(t, rows.frames, o);
    const input = stateHeadInput(stem, kp, n);
    const state = trainStateHead(input, targets, rows.frames, o, new Rng(3));
    const latents = encodeLatents(stem, kp, state.head, input, targets.columns.length, n);
    const actions = actionNormalisation(bounds, 2);
    expect(actions).toEqual({ center: Float32Array.of(0, 0), scale: Float32Array.of(1, 1) });
    const d = trainDynamics(t, train, rows.actions, latents, actions, { ...o, dynamicsEpochs: 6 }, new Rng(4));
    expect(d.log).toHaveLength(6);
    expect(d.log.at(-1)!.loss).toBeLessThan(d.log[0]!.loss);
    expect(d.deltaScale).toHaveLength(o.latent);
    expect(d.deltaScale.every((v) => v > 0)).toBe(true);
    expect(d.dynamics[0]!.inputs).toBe(o.latent + 2);
    expect(d.dynamics.at(-1)!.outputs).toBe(o.latent);
    expect(d.inverse.at(-1)!.outputs).toBe(2);
  });

  it('the phases in trainLatentModel order with one Rng give its model, byte for byte', () => {
    const rng = new Rng(o.seed);
    const stem = fitStem(t, rows.frames, o, rng);
    const keypoints = fitKeypoints(t, train, rows.frames, stem.rows, o);
    const targets = stateTargets(t, rows.frames, o);
    const input = stateHeadInput(stem, keypoints, n);
    const state = trainStateHead(input, targets, rows.frames, o, rng);
    const latents = encodeLatents(stem, keypoints, state.head, input, targets.columns.length, n);
    const actions = actionNormalisation(bounds, 2);
    const dynamics = trainDynamics(t, train, rows.actions, latents, actions, o, rng);
    const model = assembleLatentModel(t, { stem, keypoints, targets, stateHead: state.head, dynamics, actions });
    const whole = trainLatentModel(t, train, bounds, o);
    expect([...state.log, ...dynamics.log]).toEqual(whole.log);
    expect(exportLatentModel(model)).toEqual(exportLatentModel(whole.model));
  });
});
