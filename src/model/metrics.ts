/**
 * Evaluation metrics for world models, each defined the way the field reports it so numbers are
 * comparable with papers: pixel MSE / PSNR / SSIM on frames in [0,1], R² (scikit-learn's uniform
 * average), a held-out linear probe, mutual k-NN alignment (Huh et al. 2024, "The Platonic
 * Representation Hypothesis") and linear CKA (Kornblith et al. 2019; biased and unbiased HSIC).
 */
import { TrajforgeError } from '../core/errors.js';
import {
  applyAffine,
  centerColumns,
  fitRidge,
  frobenius2,
  sliceRows,
  transposeTimes,
  type Matrix,
} from './linalg.js';

type Pixels = Uint8Array | Uint8ClampedArray | Float32Array | Float64Array;

/** uint8 frames are scaled to [0,1]; float frames are taken as already in [0,1]. */
function pixelScale(x: Pixels): number {
  return x instanceof Uint8Array || x instanceof Uint8ClampedArray ? 1 / 255 : 1;
}

function requireSameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${what}: ${a.length} values vs ${b.length} values`);
  }
}

/** Mean squared error of two frames (or frame batches) on the [0,1] scale. */
export function pixelMse(a: Pixels, b: Pixels): number {
  requireSameLength(a, b, 'pixelMse');
  const sa = pixelScale(a);
  const sb = pixelScale(b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! * sa - b[i]! * sb;
    sum += d * d;
  }
  return a.length === 0 ? 0 : sum / a.length;
}

/** PSNR in dB for a data range of 1; identical frames give +Infinity. */
export function psnr(mse: number): number {
  return mse === 0 ? Infinity : -10 * Math.log10(mse);
}

export interface SsimOptions {
  /** Side of the square uniform window (scikit-image's default 7). */
  window?: number;
}

/**
 * Mean structural similarity of two HxWxC frames (Wang et al. 2004) with scikit-image's defaults:
 * a uniform 7x7 window, K1 = 0.01, K2 = 0.03, data range 1, sample covariance, averaged over every
 * window lying fully inside the image and over channels (skimage crops the border the same way).
 */
export function ssim(a: Pixels, b: Pixels, width: number, height: number, channels: number, options: SsimOptions = {}): number {
  requireSameLength(a, b, 'ssim');
  if (a.length !== width * height * channels) {
    throw new TrajforgeError('E_MODEL_SHAPE', `ssim: ${a.length} values is not ${width}x${height}x${channels}`);
  }
  const win = options.window ?? 7;
  if (win > width || win > height) {
    throw new TrajforgeError('E_MODEL_SHAPE', `ssim: window ${win} larger than the ${width}x${height} frame`);
  }
  const sa = pixelScale(a);
  const sb = pixelScale(b);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  const np = win * win;
  const covNorm = np / (np - 1);
  // Summed-area tables of x, y, x², y², xy make every window O(1).
  const w1 = width + 1;
  const tables = Array.from({ length: 5 }, () => new Float64Array(w1 * (height + 1)));
  const [tx, ty, txx, tyy, txy] = tables as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let total = 0;
  for (let ch = 0; ch < channels; ch++) {
    for (let yy = 0; yy < height; yy++) {
      for (let xx = 0; xx < width; xx++) {
        const i = (yy * width + xx) * channels + ch;
        const x = a[i]! * sa;
        const y = b[i]! * sb;
        const t = (yy + 1) * w1 + xx + 1;
        const up = t - w1;
        tx[t] = x + tx[t - 1]! + tx[up]! - tx[up - 1]!;
        ty[t] = y + ty[t - 1]! + ty[up]! - ty[up - 1]!;
        txx[t] = x * x + txx[t - 1]! + txx[up]! - txx[up - 1]!;
        tyy[t] = y * y + tyy[t - 1]! + tyy[up]! - tyy[up - 1]!;
        txy[t] = x * y + txy[t - 1]! + txy[up]! - txy[up - 1]!;
      }
    }
    const boxSum = (t: Float64Array, x0: number, y0: number): number => {
      const x1 = x0 + win;
      const y1 = y0 + win;
      return t[y1 * w1 + x1]! - t[y0 * w1 + x1]! - t[y1 * w1 + x0]! + t[y0 * w1 + x0]!;
    };
    let sum = 0;
    let count = 0;
    for (let y0 = 0; y0 + win <= height; y0++) {
      for (let x0 = 0; x0 + win <= width; x0++) {
        const mx = boxSum(tx, x0, y0) / np;
        const my = boxSum(ty, x0, y0) / np;
        const vx = covNorm * (boxSum(txx, x0, y0) / np - mx * mx);
        const vy = covNorm * (boxSum(tyy, x0, y0) / np - my * my);
        const vxy = covNorm * (boxSum(txy, x0, y0) / np - mx * my);
        sum += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        count++;
      }
    }
    total += sum / count;
  }
  return total / channels;
}

/**
 * Coefficient of determination per output column, averaged uniformly (scikit-learn's
 * `r2_score(..., multioutput='uniform_average')`). Columns whose truth is constant are skipped,
 * since R² is undefined for them; if every column is constant the result is NaN.
 */
export function r2Score(predicted: Matrix, truth: Matrix): number {
  return r2Average(r2Columns(predicted, truth));
}

/** The mean of the defined (finite) per-column R²s; NaN when none is. */
export function r2Average(columns: readonly number[]): number {
  const defined = columns.filter((v) => Number.isFinite(v));
  return defined.length === 0 ? NaN : defined.reduce((a, b) => a + b, 0) / defined.length;
}

/** R² of each column; NaN for a column the truth holds constant (nothing to explain). */
export function r2Columns(predicted: Matrix, truth: Matrix): number[] {
  if (predicted.rows !== truth.rows || predicted.cols !== truth.cols) {
    throw new TrajforgeError('E_MODEL_SHAPE', `R²: predicted ${predicted.rows}x${predicted.cols} vs truth ${truth.rows}x${truth.cols}`);
  }
  const { rows, cols } = truth;
  return Array.from({ length: cols }, (_, c) => {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += truth.data[r * cols + c]!;
    mean /= rows;
    let ssTot = 0;
    let ssRes = 0;
    for (let r = 0; r < rows; r++) {
      const t = truth.data[r * cols + c]!;
      const d = t - predicted.data[r * cols + c]!;
      ssTot += (t - mean) ** 2;
      ssRes += d * d;
    }
    return ssTot <= 1e-12 * rows * Math.max(1, mean * mean) ? NaN : 1 - ssRes / ssTot;
  });
}

export interface LinearProbeOptions {
  /** Fraction of rows (taken from the start, so callers control the split) used for fitting. */
  trainFraction?: number;
  /** Ridge penalty, scaled by the sample count (see fitRidge). */
  lambda?: number;
}

/** Held-out R² of a ridge regression from features to targets: "how linearly decodable is y from z". */
export function linearProbeR2(features: Matrix, targets: Matrix, options: LinearProbeOptions = {}): number {
  return r2Average(linearProbeR2Columns(features, targets, options));
}

/** linearProbeR2 of each target column (one ridge fit for all of them). */
export function linearProbeR2Columns(features: Matrix, targets: Matrix, options: LinearProbeOptions = {}): number[] {
  const trainFraction = options.trainFraction ?? 0.8;
  const split = Math.round(features.rows * trainFraction);
  if (split < 2 || features.rows - split < 2) {
    throw new TrajforgeError('E_MODEL_SHAPE', `linearProbeR2: ${features.rows} rows are too few to split into train and test`);
  }
  const map = fitRidge(sliceRows(features, 0, split), sliceRows(targets, 0, split), options.lambda ?? 1e-6);
  return r2Columns(applyAffine(map, sliceRows(features, split, features.rows)), sliceRows(targets, split, targets.rows));
}

/** Clamp at the q-quantile of |value| over the whole matrix, then L2-normalise rows (PRH's preprocessing). */
function clipAndNormalise(x: Matrix, q: number): Matrix {
  const abs = Float64Array.from(x.data, Math.abs).sort();
  const limit = abs.length === 0 ? 0 : quantileSorted(abs, q);
  const out = { rows: x.rows, cols: x.cols, data: new Float64Array(x.data.length) };
  for (let r = 0; r < x.rows; r++) {
    let norm = 0;
    const off = r * x.cols;
    for (let c = 0; c < x.cols; c++) {
      const v = Math.min(limit, Math.max(-limit, x.data[off + c]!));
      out.data[off + c] = v;
      norm += v * v;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let c = 0; c < x.cols; c++) out.data[off + c]! *= inv;
  }
  return out;
}

/** Linear-interpolated quantile of sorted values (numpy/torch default). */
function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Indices of each row's k most similar other rows under the inner product, ties broken by index. */
function nearestNeighbours(x: Matrix, k: number): Int32Array {
  const n = x.rows;
  const out = new Int32Array(n * k);
  const sims = new Float64Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const oi = i * x.cols;
    for (let j = 0; j < n; j++) {
      let s = 0;
      const oj = j * x.cols;
      for (let c = 0; c < x.cols; c++) s += x.data[oi + c]! * x.data[oj + c]!;
      sims[j] = j === i ? -Infinity : s;
      order[j] = j;
    }
    order.sort((p, q) => sims[q]! - sims[p]! || p - q);
    out.set(order.subarray(0, k), i * k);
  }
  return out;
}

/**
 * Mutual k-nearest-neighbour alignment of two representations of the same n samples: the mean
 * fraction of each sample's k nearest neighbours (cosine similarity, self excluded) shared by both.
 * 1 = identical neighbourhoods; chance is about k/(n-1).
 */
export function mutualKnnAlignment(a: Matrix, b: Matrix, k = 10): number {
  if (a.rows !== b.rows) throw new TrajforgeError('E_MODEL_SHAPE', `mutualKnnAlignment: ${a.rows} vs ${b.rows} samples`);
  if (k < 1 || k >= a.rows) throw new TrajforgeError('E_MODEL_SHAPE', `mutualKnnAlignment: k=${k} needs more than k samples (have ${a.rows})`);
  const na = nearestNeighbours(clipAndNormalise(a, 0.95), k);
  const nb = nearestNeighbours(clipAndNormalise(b, 0.95), k);
  let total = 0;
  for (let i = 0; i < a.rows; i++) {
    const set = new Set(na.subarray(i * k, (i + 1) * k));
    let overlap = 0;
    for (const j of nb.subarray(i * k, (i + 1) * k)) if (set.has(j)) overlap++;
    total += overlap / k;
  }
  return total / a.rows;
}

/**
 * Linear CKA with the biased HSIC estimator: ‖AᵀB‖²_F / (‖AᵀA‖_F ‖BᵀB‖_F) on column-centred
 * features. Invariant to orthogonal transforms and isotropic scaling of either side.
 */
export function linearCka(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows) throw new TrajforgeError('E_MODEL_SHAPE', `linearCka: ${a.rows} vs ${b.rows} samples`);
  const ac = centerColumns(a);
  const bc = centerColumns(b);
  const cross = frobenius2(transposeTimes(ac, bc));
  const denom = Math.sqrt(frobenius2(transposeTimes(ac, ac)) * frobenius2(transposeTimes(bc, bc)));
  return denom === 0 ? 0 : cross / denom;
}

/** Gram matrix x·xᵀ with a zeroed diagonal (what the unbiased HSIC estimator uses). */
function gramZeroDiagonal(x: Matrix): Float64Array {
  const n = x.rows;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let c = 0; c < x.cols; c++) s += x.data[i * x.cols + c]! * x.data[j * x.cols + c]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

/** Unbiased HSIC (Song et al. 2012) of two zero-diagonal Gram matrices. */
function hsicUnbiased(k: Float64Array, l: Float64Array, n: number): number {
  let trace = 0;
  let sumK = 0;
  let sumL = 0;
  let cross = 0; // 1ᵀ K L 1 = Σ_j (Σ_i K_ij)(Σ_i L_ij) for symmetric K, L
  for (let j = 0; j < n; j++) {
    let colK = 0;
    let colL = 0;
    for (let i = 0; i < n; i++) {
      const kv = k[i * n + j]!;
      const lv = l[i * n + j]!;
      trace += kv * lv;
      colK += kv;
      colL += lv;
    }
    sumK += colK;
    sumL += colL;
    cross += colK * colL;
  }
  return (trace + (sumK * sumL) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * cross) / (n * (n - 3));
}

/** Linear CKA with the unbiased HSIC estimator: near 0 for independent features even when n ≈ d. */
export function linearCkaUnbiased(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows) throw new TrajforgeError('E_MODEL_SHAPE', `linearCkaUnbiased: ${a.rows} vs ${b.rows} samples`);
  const n = a.rows;
  if (n < 4) throw new TrajforgeError('E_MODEL_SHAPE', 'linearCkaUnbiased needs at least 4 samples');
  const k = gramZeroDiagonal(a);
  const l = gramZeroDiagonal(b);
  const kl = hsicUnbiased(k, l, n);
  const kk = hsicUnbiased(k, k, n);
  const ll = hsicUnbiased(l, l, n);
  return kk <= 0 || ll <= 0 ? 0 : kl / Math.sqrt(kk * ll);
}
