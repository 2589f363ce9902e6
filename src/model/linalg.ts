/**
 * Small dense linear algebra for the world model's closed-form parts (ridge regression, linear
 * probes, CKA). Matrices are row-major Float64Array with explicit shapes: float64 because normal
 * equations square the condition number, and these are fitted once, not in a hot loop.
 */
import { TrajforgeError } from '../core/errors.js';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (data !== undefined && data.length !== rows * cols) {
    throw new TrajforgeError(
      'E_MODEL_SHAPE',
      `matrix ${rows}x${cols} needs ${rows * cols} values, got ${data.length}`,
    );
  }
  return { rows, cols, data: data === undefined ? new Float64Array(rows * cols) : Float64Array.from(data) };
}

function requireSameRows(a: Matrix, b: Matrix, what: string): void {
  if (a.rows !== b.rows) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${what}: ${a.rows} rows vs ${b.rows} rows`);
  }
}

/** Column means. */
export function columnMeans(x: Matrix): Float64Array {
  const mean = new Float64Array(x.cols);
  for (let r = 0; r < x.rows; r++) {
    const off = r * x.cols;
    for (let c = 0; c < x.cols; c++) mean[c]! += x.data[off + c]!;
  }
  for (let c = 0; c < x.cols; c++) mean[c]! /= Math.max(1, x.rows);
  return mean;
}

/** A copy of x with each column's mean subtracted. */
export function centerColumns(x: Matrix): Matrix {
  const mean = columnMeans(x);
  const out = matrix(x.rows, x.cols);
  for (let r = 0; r < x.rows; r++) {
    const off = r * x.cols;
    for (let c = 0; c < x.cols; c++) out.data[off + c] = x.data[off + c]! - mean[c]!;
  }
  return out;
}

/** Per-column mean and population standard deviation over the given rows of a row-major array. */
export function columnStats(data: ArrayLike<number>, cols: number, rows: readonly number[]): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  const n = Math.max(1, rows.length);
  for (const r of rows) for (let j = 0; j < cols; j++) mean[j]! += data[r * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j]! /= n;
  for (const r of rows) for (let j = 0; j < cols; j++) std[j]! += (data[r * cols + j]! - mean[j]!) ** 2;
  for (let j = 0; j < cols; j++) std[j] = Math.sqrt(std[j]! / n);
  return { mean, std };
}

/** aᵀ·b (a: n×p, b: n×q -> p×q), accumulated row by row so memory access stays sequential. */
export function transposeTimes(a: Matrix, b: Matrix): Matrix {
  requireSameRows(a, b, 'transposeTimes');
  const out = matrix(a.cols, b.cols);
  // Local aliases: V8 does not hoist the .data loads out of the inner loop (~15 % on PCA).
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  const q = b.cols;
  for (let r = 0; r < a.rows; r++) {
    const ao = r * a.cols;
    const bo = r * q;
    for (let i = 0; i < a.cols; i++) {
      const v = ad[ao + i]!;
      if (v === 0) continue;
      const oo = i * q;
      for (let j = 0; j < q; j++) od[oo + j]! += v * bd[bo + j]!;
    }
  }
  return out;
}

/**
 * aᵀ·a (p×p), as transposeTimes(a, a) (to rounding: four rows' products are summed before they
 * join an entry) but on the upper triangle, in tiles: transposeTimes streams the whole p×p
 * output once per row, which for a ridge fit's 12,000 × 1,600 features (the PCA baseline's
 * inverse model at latent 160) took 88 s, memory-bound; here a tile of the output stays in cache
 * over a block of rows.
 */
export function gram(a: Matrix): Matrix {
  const p = a.cols;
  const out = matrix(p, p);
  const ad = a.data;
  const od = out.data;
  const TILE = 64;
  const ROWS = 256;
  for (let r0 = 0; r0 < a.rows; r0 += ROWS) {
    const r1 = Math.min(a.rows, r0 + ROWS);
    for (let i0 = 0; i0 < p; i0 += TILE) {
      const i1 = Math.min(p, i0 + TILE);
      for (let j0 = i0; j0 < p; j0 += TILE) {
        const j1 = Math.min(p, j0 + TILE);
        let r = r0;
        // Four rows at a time: one read and write of the output entry per four products.
        for (; r + 3 < r1; r += 4) {
          const o0 = r * p;
          const o1 = o0 + p;
          const o2 = o1 + p;
          const o3 = o2 + p;
          for (let i = i0; i < i1; i++) {
            const v0 = ad[o0 + i]!;
            const v1 = ad[o1 + i]!;
            const v2 = ad[o2 + i]!;
            const v3 = ad[o3 + i]!;
            const oo = i * p;
            for (let j = j0 === i0 ? i : j0; j < j1; j++) od[oo + j]! += v0 * ad[o0 + j]! + v1 * ad[o1 + j]! + v2 * ad[o2 + j]! + v3 * ad[o3 + j]!;
          }
        }
        for (; r < r1; r++) {
          const ro = r * p;
          for (let i = i0; i < i1; i++) {
            const v = ad[ro + i]!;
            const oo = i * p;
            for (let j = j0 === i0 ? i : j0; j < j1; j++) od[oo + j]! += v * ad[ro + j]!;
          }
        }
      }
    }
  }
  for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) od[i * p + j] = od[j * p + i]!;
  return out;
}

/** a·b (n×p times p×q). */
export function times(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) {
    throw new TrajforgeError('E_MODEL_SHAPE', `times: ${a.rows}x${a.cols} by ${b.rows}x${b.cols}`);
  }
  const out = matrix(a.rows, b.cols);
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  const q = b.cols;
  for (let r = 0; r < a.rows; r++) {
    const ao = r * a.cols;
    const oo = r * q;
    for (let k = 0; k < a.cols; k++) {
      const v = ad[ao + k]!;
      if (v === 0) continue;
      const bo = k * q;
      for (let j = 0; j < q; j++) od[oo + j]! += v * bd[bo + j]!;
    }
  }
  return out;
}

/** Squared Frobenius norm. */
export function frobenius2(x: Matrix): number {
  let s = 0;
  for (const v of x.data) s += v * v;
  return s;
}

/**
 * Solves s·w = b for a symmetric positive definite s (p×p) and b (p×q) by Cholesky. Throws
 * E_MODEL_SHAPE when s is not positive definite (a ridge penalty > 0 always makes it so).
 */
export function solveSpd(s: Matrix, b: Matrix): Matrix {
  const p = s.rows;
  if (s.cols !== p || b.rows !== p) {
    throw new TrajforgeError('E_MODEL_SHAPE', `solveSpd: ${s.rows}x${s.cols} with ${b.rows}x${b.cols}`);
  }
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = s.data[i * p + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(sum > 0)) {
          throw new TrajforgeError('E_MODEL_SHAPE', 'solveSpd: matrix is not positive definite; increase the ridge penalty');
        }
        l[i * p + i] = Math.sqrt(sum);
      } else {
        l[i * p + j] = sum / l[j * p + j]!;
      }
    }
  }
  const q = b.cols;
  const w = matrix(p, q, b.data);
  // Forward substitution L·y = b, then back substitution Lᵀ·w = y, column-block at once.
  for (let i = 0; i < p; i++) {
    for (let k = 0; k < i; k++) {
      const lik = l[i * p + k]!;
      for (let j = 0; j < q; j++) w.data[i * q + j]! -= lik * w.data[k * q + j]!;
    }
    const d = l[i * p + i]!;
    for (let j = 0; j < q; j++) w.data[i * q + j]! /= d;
  }
  for (let i = p - 1; i >= 0; i--) {
    for (let k = i + 1; k < p; k++) {
      const lki = l[k * p + i]!;
      for (let j = 0; j < q; j++) w.data[i * q + j]! -= lki * w.data[k * q + j]!;
    }
    const d = l[i * p + i]!;
    for (let j = 0; j < q; j++) w.data[i * q + j]! /= d;
  }
  return w;
}

/** A fitted affine map y ≈ x·weights + bias. */
export interface AffineMap {
  readonly weights: Matrix; // p×q
  readonly bias: Float64Array; // q
}

/**
 * Ridge regression with an unpenalised intercept: centre x and y, solve (XᵀX + λ·n·I)·W = XᵀY.
 * λ is scaled by n so one value behaves the same for 100 or 100,000 samples.
 */
export function fitRidge(x: Matrix, y: Matrix, lambda: number): AffineMap {
  requireSameRows(x, y, 'fitRidge');
  const xMean = columnMeans(x);
  const yMean = columnMeans(y);
  const xc = centerColumns(x);
  const yc = centerColumns(y);
  const s = gram(xc);
  const penalty = lambda * x.rows;
  // A relative floor keeps λ = 0 solvable for collinear columns without changing well-posed fits.
  let trace = 0;
  for (let i = 0; i < s.rows; i++) trace += s.data[i * s.cols + i]!;
  const floor = 1e-12 * Math.max(trace / Math.max(1, s.rows), 1e-300);
  for (let i = 0; i < s.rows; i++) s.data[i * s.cols + i]! += Math.max(penalty, floor);
  const weights = solveSpd(s, transposeTimes(xc, yc));
  const bias = new Float64Array(y.cols);
  for (let j = 0; j < y.cols; j++) {
    let v = yMean[j]!;
    for (let i = 0; i < x.cols; i++) v -= xMean[i]! * weights.data[i * y.cols + j]!;
    bias[j] = v;
  }
  return { weights, bias };
}

export function applyAffine(map: AffineMap, x: Matrix): Matrix {
  const out = times(x, map.weights);
  for (let r = 0; r < out.rows; r++) {
    for (let j = 0; j < out.cols; j++) out.data[r * out.cols + j]! += map.bias[j]!;
  }
  return out;
}

/** Rows [start, end) of x as a new matrix. */
export function sliceRows(x: Matrix, start: number, end: number): Matrix {
  return { rows: end - start, cols: x.cols, data: x.data.slice(start * x.cols, end * x.cols) };
}
