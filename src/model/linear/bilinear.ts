/**
 * Closed-form latent dynamics: next latent from [z, a, z⊗a] by ridge regression (the bilinear
 * term lets an action's effect depend on the state, e.g. a push only moves the cube when in
 * contact), and inverse dynamics a from [z, Δz, z[:r]⊗Δz]. This is the PCA baseline's dynamics and the
 * fast `--arch linear` option; it fits in one pass and has no hyper-parameters but λ.
 */
import { TrajforgeError } from '../../core/errors.js';
import { applyAffine, fitRidge, matrix, type AffineMap, type Matrix } from '../linalg.js';

export interface BilinearDynamics {
  readonly latentSize: number;
  readonly actionSize: number;
  /** [z, a, z⊗a] -> z' - z (predicting the change keeps the identity map free of penalty). */
  readonly forward: AffineMap;
  /** [z, Δz, z[:r]⊗Δz] -> a, Δz = z' - z (bilinear again: an action's effect depends on the state). */
  readonly inverse: AffineMap;
  /** r: latent columns in the inverse model's product term. */
  readonly inverseProductTerms: number;
}

/** Latent columns entering the inverse model's z⊗Δz term by default. */
export const INVERSE_PRODUCT_TERMS = 8;

/**
 * Row-wise feature vector [z, a, z[:r]⊗a] (flattened z-major); a may be any per-row vector. Only
 * the first r latent columns (PCA orders them by variance) enter the product, which keeps the
 * inverse model's [z, Δz, z⊗Δz] from growing as k² (k=64 would be 4,224 features).
 */
export function bilinearFeatures(z: Matrix, a: Matrix, productTerms = z.cols): Matrix {
  if (z.rows !== a.rows) throw new TrajforgeError('E_MODEL_SHAPE', `bilinearFeatures: ${z.rows} latents vs ${a.rows} rows`);
  const dz = z.cols;
  const da = a.cols;
  const r = Math.min(dz, productTerms);
  const width = dz + da + r * da;
  const out = matrix(z.rows, width);
  for (let row = 0; row < z.rows; row++) {
    const o = row * width;
    for (let i = 0; i < dz; i++) out.data[o + i] = z.data[row * dz + i]!;
    for (let j = 0; j < da; j++) out.data[o + dz + j] = a.data[row * da + j]!;
    let k = o + dz + da;
    for (let i = 0; i < r; i++) {
      const zi = z.data[row * dz + i]!;
      for (let j = 0; j < da; j++) out.data[k++] = zi * a.data[row * da + j]!;
    }
  }
  return out;
}

function difference(next: Matrix, z: Matrix): Matrix {
  const out = matrix(z.rows, z.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = next.data[i]! - z.data[i]!;
  return out;
}

/** Fits both directions from transitions (z, a, z'), one per row. */
export function fitBilinearDynamics(z: Matrix, a: Matrix, next: Matrix, lambda = 1e-4, inverseProductTerms = INVERSE_PRODUCT_TERMS): BilinearDynamics {
  if (next.rows !== z.rows || next.cols !== z.cols) {
    throw new TrajforgeError('E_MODEL_SHAPE', `fitBilinearDynamics: next latents ${next.rows}x${next.cols} vs ${z.rows}x${z.cols}`);
  }
  const delta = difference(next, z);
  return {
    latentSize: z.cols,
    actionSize: a.cols,
    forward: fitRidge(bilinearFeatures(z, a), delta, lambda),
    inverse: fitRidge(bilinearFeatures(z, delta, inverseProductTerms), a, lambda),
    inverseProductTerms,
  };
}

/** One step for a batch: z' = z + f([z, a, z⊗a]). */
export function predictNext(model: BilinearDynamics, z: Matrix, a: Matrix): Matrix {
  const next = applyAffine(model.forward, bilinearFeatures(z, a));
  for (let i = 0; i < next.data.length; i++) next.data[i]! += z.data[i]!;
  return next;
}

/** Inferred actions behind transitions z -> z'. */
export function inferActions(model: BilinearDynamics, z: Matrix, next: Matrix): Matrix {
  return applyAffine(model.inverse, bilinearFeatures(z, difference(next, z), model.inverseProductTerms));
}

/**
 * Open-loop rollout: from z0 (1×dz) under actions (H×da), feeding predictions back in.
 * Returns H×dz predicted latents z1..zH.
 */
export function rollout(model: BilinearDynamics, z0: Matrix, actions: Matrix): Matrix {
  const out = matrix(actions.rows, model.latentSize);
  let z = z0;
  for (let t = 0; t < actions.rows; t++) {
    const a = { rows: 1, cols: actions.cols, data: actions.data.subarray(t * actions.cols, (t + 1) * actions.cols) };
    z = predictNext(model, z, a);
    out.data.set(z.data, t * model.latentSize);
  }
  return out;
}
