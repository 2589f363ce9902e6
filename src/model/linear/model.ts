/**
 * The PCA + bilinear-ridge world model: frames -> k principal components (the latent), latent
 * dynamics fitted in closed form (bilinear.ts). Every report compares against it, and it is the
 * fast `--arch linear` option.
 *
 * fitLinearOnnx is the fit the commands run: the wide products (the PCA at 64x64x3 = 12288 values
 * a frame, the projection of every training frame) go through onnxruntime's float32 Gemm, and
 * frames are gathered from the camera bytes a batch at a time, so no float matrix of the whole
 * dataset exists. fitLinearWorldModel, fitLinearHeads and linearAsLatentModel are the same model
 * in float64 JS: the reference that the ONNX fit and the exported graphs are tested against.
 */
import { bilinearFeatures, fitBilinearDynamics, inferActions, predictNext, type BilinearDynamics } from './bilinear.js';
import type { LatentWorldModel } from '../evaluate.js';
import { fitRidge, matrix, type AffineMap, type Matrix } from '../linalg.js';
import type { OnnxModelOptions } from '../onnx/runtime.js';
import { fitPca, fitPcaOnnx, OnnxProducts, pcaProject, pcaProjectOnnx, pcaReconstruct, type Pca } from '../pca.js';
import { episodeRows, frameRows, pickRows, poolFrames, type Transitions } from '../transitions.js';

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

/** Reward and done (terminated) as ridge regressions on the forward model's [z, a, z⊗a] features. */
export interface LinearHeads {
  readonly reward: AffineMap;
  readonly done: AffineMap;
}

/** Frame rows gathered and projected per batch: 1024 rows of 64x64x3 float32 are 48 MiB. */
const BATCH = 1024;

type TrainRows = ReturnType<typeof episodeRows>;

/** The PCA's sample: evenly spaced training frames, at most `max`. */
function fitSample(frames: readonly number[], max = Infinity): number[] {
  const stride = Math.max(1, Math.ceil(frames.length / max));
  return frames.filter((_, i) => i % stride === 0);
}

/**
 * Components a PCA of the training episodes' frames can have: `wanted`, unless the frames it is
 * fitted on (at most `maxFitFrames`, evenly spaced) are too few: n frames give at most n − 1.
 */
export function pcaComponentsFor(t: Transitions, trainEpisodes: readonly number[], wanted: number, maxFitFrames?: number): { components: number; fitFrames: number } {
  const fitFrames = fitSample(episodeRows(t, trainEpisodes).frames, maxFitFrames).length;
  return { components: Math.max(1, Math.min(wanted, fitFrames - 1, framePixels(t))), fitFrames };
}

function framePixels(t: Transitions): number {
  return t.width * t.height * 3;
}

/** pcaProject of the given frame rows, gathered a batch at a time. */
function projectFrames(pca: Pca, t: Transitions, rows: readonly number[]): Matrix {
  const k = pca.components.rows;
  const z = matrix(rows.length, k);
  for (let from = 0; from < rows.length; from += BATCH) {
    const batch = rows.slice(from, from + BATCH);
    z.data.set(pcaProject(pca, matrix(batch.length, framePixels(t), frameRows(t, batch))).data, from * k);
  }
  return z;
}

/** projectFrames in onnxruntime. */
async function projectFramesOnnx(pca: Pca, t: Transitions, rows: readonly number[], products: OnnxProducts): Promise<Matrix> {
  const k = pca.components.rows;
  const components = Float32Array.from(pca.components.data);
  const z = matrix(rows.length, k);
  for (let from = 0; from < rows.length; from += BATCH) {
    const batch = rows.slice(from, from + BATCH);
    z.data.set(await pcaProjectOnnx(pca, components, frameRows(t, batch), batch.length, products), from * k);
  }
  return z;
}

/** Picks latents by frame row, given z of every training frame (z row i is frame rows.frames[i]). */
function latentsByFrame(rows: TrainRows, z: Matrix): (frames: readonly number[]) => Matrix {
  const at = new Map(rows.frames.map((r, i) => [r, i]));
  return (frames) => pickRows(z, frames.map((r) => at.get(r)!));
}

function fitDynamics(t: Transitions, rows: TrainRows, latents: (frames: readonly number[]) => Matrix, lambda: number): BilinearDynamics {
  return fitBilinearDynamics(latents(rows.current), pickRows(t.actions, rows.actions), latents(rows.next), lambda);
}

/** Both heads in one ridge solve (they share the features' Gram matrix), from the latents of each step's frame. */
function fitHeads(t: Transitions, actionRows: readonly number[], zCurrent: Matrix, lambda: number): LinearHeads {
  const n = actionRows.length;
  const targets = matrix(n, 2);
  actionRows.forEach((a, i) => {
    targets.data[2 * i] = t.rewards[a]!;
    targets.data[2 * i + 1] = t.terminated[a]!;
  });
  const both = fitRidge(bilinearFeatures(zCurrent, pickRows(t.actions, actionRows)), targets, lambda);
  const column = (j: number): AffineMap => {
    const p = both.weights.rows;
    return { weights: matrix(p, 1, Array.from({ length: p }, (_, i) => both.weights.data[2 * i + j]!)), bias: Float64Array.of(both.bias[j]!) };
  };
  return { reward: column(0), done: column(1) };
}

function linearModel(t: Transitions, pca: Pca, dynamics: BilinearDynamics): LinearWorldModel {
  return { pca, dynamics, inputWidth: t.source.width, inputHeight: t.source.height, width: t.width, height: t.height };
}

/**
 * The model and its reward/done heads, the wide products in onnxruntime (float32): what eval
 * compares against and `train --arch linear` exports. Only training frames are gathered: the
 * PCA's sample, then every training frame once for the dynamics and heads.
 */
export async function fitLinearOnnx(t: Transitions, trainEpisodes: readonly number[], options: LinearFitOptions & { onnx?: OnnxModelOptions } = {}): Promise<{ model: LinearWorldModel; heads: LinearHeads }> {
  const rows = episodeRows(t, trainEpisodes);
  const lambda = options.lambda ?? 1e-3;
  const sample = fitSample(rows.frames, options.maxFitFrames);
  const products = new OnnxProducts(options.onnx);
  try {
    const pca = await fitPcaOnnx(frameRows(t, sample), sample.length, framePixels(t), options.latent ?? 32, products, { seed: options.seed ?? 0 });
    const latents = latentsByFrame(rows, await projectFramesOnnx(pca, t, rows.frames, products));
    return { model: linearModel(t, pca, fitDynamics(t, rows, latents, lambda)), heads: fitHeads(t, rows.actions, latents(rows.current), lambda) };
  } finally {
    await products.release();
  }
}

/** The model in float64 JS (see the module comment). */
export function fitLinearWorldModel(t: Transitions, trainEpisodes: readonly number[], options: LinearFitOptions = {}): LinearWorldModel {
  const rows = episodeRows(t, trainEpisodes);
  const sample = fitSample(rows.frames, options.maxFitFrames);
  const pca = fitPca(matrix(sample.length, framePixels(t), frameRows(t, sample)), options.latent ?? 32, { seed: options.seed ?? 0 });
  return linearModel(t, pca, fitDynamics(t, rows, latentsByFrame(rows, projectFrames(pca, t, rows.frames)), options.lambda ?? 1e-3));
}

/** The heads of a model from fitLinearWorldModel, in float64 JS. */
export function fitLinearHeads(model: LinearWorldModel, t: Transitions, trainEpisodes: readonly number[], lambda = 1e-3): LinearHeads {
  const rows = episodeRows(t, trainEpisodes);
  return fitHeads(t, rows.actions, projectFrames(model.pca, t, rows.current), lambda);
}

/** The model behind evaluate.ts's interface in float64 JS: the reference its exported graphs are checked against. */
export function linearAsLatentModel(model: LinearWorldModel): LatentWorldModel {
  const k = model.pca.components.rows;
  const toMatrix = (data: Float32Array, n: number) => matrix(n, data.length / n, data);
  const toF32 = (m: Matrix) => Float32Array.from(m.data);
  return {
    latent: k,
    context: 1,
    encode: async (frames, n) => toF32(pcaProject(model.pca, toMatrix(poolFrames(frames, n, model.inputWidth, model.inputHeight, model.inputWidth / model.width), n))),
    decode: async (z, n) => toF32(pcaReconstruct(model.pca, toMatrix(z, n))),
    step: async (z, a, n) => ({ next: toF32(predictNext(model.dynamics, toMatrix(z, n), toMatrix(a, n))) }),
    inverse: async (z, zNext, n) => toF32(inferActions(model.dynamics, toMatrix(z, n), toMatrix(zNext, n))),
  };
}
