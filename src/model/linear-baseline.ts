/**
 * The PCA + bilinear-ridge world model: frames -> k principal components (the latent), latent
 * dynamics fitted in closed form (bilinear.ts). Every report compares against it, and it is the
 * fast `--model linear` option. Also the copy-last-frame baseline, and open-loop evaluation.
 */
import { TrajforgeError } from '../core/errors.js';
import { bilinearFeatures, fitBilinearDynamics, inferActions, predictNext, type BilinearDynamics } from './bilinear.js';
import type { LatentWorldModel } from './evaluate.js';
import { fitRidge, matrix, type AffineMap, type Matrix } from './linalg.js';
import { fitPca, pcaProject, pcaReconstruct, type Pca } from './pca.js';
import { episodeRows, pickRows, type Transitions } from './transitions.js';

export interface LinearWorldModel {
  readonly pca: Pca;
  readonly dynamics: BilinearDynamics;
  readonly width: number;
  readonly height: number;
}

export interface LinearFitOptions {
  latent?: number;
  seed?: number;
  lambda?: number;
  /** PCA is fitted on at most this many training frames (evenly spaced), for speed. */
  maxFitFrames?: number;
}

export function fitLinearWorldModel(t: Transitions, trainEpisodes: readonly number[], options: LinearFitOptions = {}): LinearWorldModel {
  const rows = episodeRows(t, trainEpisodes);
  const stride = Math.max(1, Math.ceil(rows.frames.length / (options.maxFitFrames ?? Infinity)));
  const fitRows = rows.frames.filter((_, i) => i % stride === 0);
  const pca = fitPca(pickRows(t.frames, fitRows), options.latent ?? 32, { seed: options.seed ?? 0 });
  const z = pcaProject(pca, t.frames); // every frame, so transitions index straight into it
  const dynamics = fitBilinearDynamics(pickRows(z, rows.current), pickRows(t.actions, rows.actions), pickRows(z, rows.next), options.lambda ?? 1e-3);
  return { pca, dynamics, width: t.width, height: t.height };
}

/** Per-horizon-step mean pixel MSE (on [0,1]) of open-loop predictions and of copy-last-frame. */
export interface OpenLoopReport {
  readonly horizon: number;
  readonly windows: number;
  readonly model: number[];
  readonly copyLast: number[];
}

function rowMse(a: Matrix, ar: number, b: Matrix, br: number): number {
  let s = 0;
  const n = a.cols;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1, Math.max(0, a.data[ar * n + i]!));
    const d = p - b.data[br * n + i]!;
    s += d * d;
  }
  return s / n;
}

/**
 * For every start t in every episode with t + horizon <= T: encode frame t, roll the latent
 * forward under the true actions without seeing frames, decode as frame t + D(ẑ) - D(z_t),
 * compare with frames t+1..t+h.
 */
export function evaluateOpenLoop(model: LinearWorldModel, t: Transitions, episodes: readonly number[], horizon: number): OpenLoopReport {
  const sums = new Float64Array(horizon);
  const copy = new Float64Array(horizon);
  let windows = 0;
  for (const e of episodes) {
    const f0 = t.frameStarts[e]!;
    const a0 = t.actionStarts[e]!;
    const len = t.lengths[e]!;
    const starts = len - horizon + 1;
    if (starts <= 0) continue;
    // All windows of this episode advance together as one batch.
    const context = pickRows(t.frames, Array.from({ length: starts }, (_, s) => f0 + s));
    const z0 = pcaProject(model.pca, context);
    const base = pcaReconstruct(model.pca, z0);
    let z = z0;
    for (let h = 0; h < horizon; h++) {
      const acts = pickRows(t.actions, Array.from({ length: starts }, (_, s) => a0 + s + h));
      z = predictNext(model.dynamics, z, acts);
      // Decode the latent change on top of the context frame: PCA keeps what moves and drops
      // fine static detail, which the context frame still has.
      const frames = pcaReconstruct(model.pca, z);
      for (let i = 0; i < frames.data.length; i++) frames.data[i]! += context.data[i]! - base.data[i]!;
      for (let s = 0; s < starts; s++) {
        sums[h]! += rowMse(frames, s, t.frames, f0 + s + h + 1);
        copy[h]! += rowMse(t.frames, f0 + s, t.frames, f0 + s + h + 1);
      }
    }
    windows += starts;
  }
  if (windows === 0) throw new TrajforgeError('E_MODEL_SHAPE', `no held-out episode is longer than the horizon ${horizon}`);
  return { horizon, windows, model: [...sums].map((v) => v / windows), copyLast: [...copy].map((v) => v / windows) };
}

/** Latents for a set of frames (n×k), e.g. for probes and alignment metrics. */
export function encodeFrames(model: LinearWorldModel, frames: Matrix): Matrix {
  if (frames.cols !== model.pca.mean.length) {
    throw new TrajforgeError('E_MODEL_SHAPE', `frames have ${frames.cols} values, the model expects ${model.pca.mean.length}`);
  }
  return pcaProject(model.pca, frames);
}


/** The baseline behind the same async interface as an ONNX world model, for shared evaluation code. */
export function linearAsLatentModel(model: LinearWorldModel): LatentWorldModel {
  const k = model.pca.components.rows;
  const toMatrix = (data: Float32Array, n: number) => matrix(n, data.length / n, data);
  const toF32 = (m: Matrix) => Float32Array.from(m.data);
  return {
    latent: k,
    encode: async (frames, n) => toF32(pcaProject(model.pca, toMatrix(frames, n))),
    decode: async (z, n) => toF32(pcaReconstruct(model.pca, toMatrix(z, n))),
    step: async (z, a, n) => ({ next: toF32(predictNext(model.dynamics, toMatrix(z, n), toMatrix(a, n))) }),
    inverse: async (z, zNext, n) => toF32(inferActions(model.dynamics, toMatrix(z, n), toMatrix(zNext, n))),
  };
}

/** Reward and done (terminated) as ridge regressions on the forward model's [z, a, z⊗a] features. */
export interface LinearHeads {
  readonly reward: AffineMap;
  readonly done: AffineMap;
}

export function fitLinearHeads(model: LinearWorldModel, t: Transitions, trainEpisodes: readonly number[], lambda = 1e-3): LinearHeads {
  const rows = episodeRows(t, trainEpisodes);
  const z = pcaProject(model.pca, pickRows(t.frames, rows.current));
  const features = bilinearFeatures(z, pickRows(t.actions, rows.actions));
  const column = (values: Float64Array) => matrix(rows.actions.length, 1, rows.actions.map((r) => values[r]!));
  return { reward: fitRidge(features, column(t.rewards), lambda), done: fitRidge(features, column(t.terminated), lambda) };
}
