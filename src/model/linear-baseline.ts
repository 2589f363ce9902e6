/**
 * The PCA + bilinear-ridge world model: frames -> k principal components (the latent), latent
 * dynamics fitted in closed form (bilinear.ts). Every report compares against it, and it is the
 * fast `--model linear` option (evaluate.ts evaluates it like any other model).
 */
import { bilinearFeatures, fitBilinearDynamics, inferActions, predictNext, type BilinearDynamics } from './bilinear.js';
import type { LatentWorldModel } from './evaluate.js';
import { fitRidge, matrix, type AffineMap, type Matrix } from './linalg.js';
import { fitPca, pcaProject, pcaReconstruct, type Pca } from './pca.js';
import { episodeRows, pickRows, poolFrames, type Transitions } from './transitions.js';

export interface LinearWorldModel {
  readonly pca: Pca;
  readonly dynamics: BilinearDynamics;
  /** Encoder input (camera frames), box-filtered to width × height before the PCA. */
  readonly inputWidth: number;
  readonly inputHeight: number;
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
  return { pca, dynamics, inputWidth: t.source.width, inputHeight: t.source.height, width: t.width, height: t.height };
}

/** The baseline behind the same async interface as an ONNX world model, for shared evaluation code. */
export function linearAsLatentModel(model: LinearWorldModel): LatentWorldModel {
  const k = model.pca.components.rows;
  const toMatrix = (data: Float32Array, n: number) => matrix(n, data.length / n, data);
  const toF32 = (m: Matrix) => Float32Array.from(m.data);
  return {
    latent: k,
    encode: async (frames, n) => toF32(pcaProject(model.pca, toMatrix(poolFrames(frames, n, model.inputWidth, model.inputHeight, model.inputWidth / model.width), n))),
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
