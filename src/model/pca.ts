/**
 * Principal component analysis of wide data (frames: thousands of pixels per row) by randomized
 * subspace iteration (Halko, Martinsson & Tropp 2011): never forms the D×D covariance, costs
 * O(n·D·(k+p)) per pass, and is seeded so the same data always gives the same components. The
 * final Rayleigh–Ritz step on the small (k+p)×(k+p) problem makes the leading components exact to
 * float precision once the subspace has converged.
 */
import { TrajforgeError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { centerColumns, columnMeans, frobenius2, matrix, times, transposeTimes, type Matrix } from './linalg.js';

export interface Pca {
  readonly mean: Float64Array; // D
  /** k×D, orthonormal rows, ordered by explained variance (largest first), sign fixed. */
  readonly components: Matrix;
  /** Variance along each component (sample variance, n-1 denominator). */
  readonly explainedVariance: Float64Array;
  /** Sum of all D variances, so callers can report the explained fraction. */
  readonly totalVariance: number;
}

export interface PcaOptions {
  seed?: number;
  /** Extra random directions beyond k (improves accuracy cheaply). */
  oversample?: number;
  /** Power iterations; each sharpens the spectrum's decay. */
  iterations?: number;
}

/**
 * Orthonormalise the columns of a (n×m) in place by modified Gram–Schmidt, twice for stability.
 * Works on a transposed copy so each column is contiguous (strided column access was the PCA's
 * bottleneck for D-long columns).
 */
function orthonormaliseColumns(a: Matrix): void {
  const { rows, cols } = a;
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a.data[r * cols + c]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < cols; c++) {
      const co = c * rows;
      for (let p = 0; p < c; p++) {
        const po = p * rows;
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += t[co + r]! * t[po + r]!;
        for (let r = 0; r < rows; r++) t[co + r]! -= dot * t[po + r]!;
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += t[co + r]! ** 2;
      const inv = norm > 1e-300 ? 1 / Math.sqrt(norm) : 0;
      for (let r = 0; r < rows; r++) t[co + r]! *= inv;
    }
  }
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a.data[r * cols + c] = t[c * rows + r]!;
}

/** Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: values descending. */
export function symmetricEigen(s: Matrix): { values: Float64Array; vectors: Matrix } {
  const n = s.rows;
  const a = Float64Array.from(s.data);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]! || i - j);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = matrix(n, n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors.data[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

/** Fits k principal components of the rows of x (n×D). */
export function fitPca(x: Matrix, k: number, options: PcaOptions = {}): Pca {
  const { rows: n, cols: d } = x;
  if (!(k >= 1 && k <= Math.min(n - 1, d))) {
    throw new TrajforgeError('E_MODEL_SHAPE', `fitPca: k=${k} must be between 1 and min(n-1, D) = ${Math.min(n - 1, d)}`);
  }
  const m = Math.min(k + (options.oversample ?? 10), n - 1, d);
  const mean = columnMeans(x);
  const xc = centerColumns(x);
  const rng = new Rng(options.seed ?? 0);
  let basis = matrix(d, m);
  for (let i = 0; i < basis.data.length; i++) basis.data[i] = rng.normal();
  // Subspace iteration on XᵀX: basis <- orth(Xᵀ·X·basis).
  for (let it = 0; it <= (options.iterations ?? 4); it++) {
    const y = times(xc, basis);
    orthonormaliseColumns(y);
    basis = transposeTimes(xc, y);
    orthonormaliseColumns(basis);
  }
  // Rayleigh–Ritz: eigen-decompose the small projected covariance (X·Q)ᵀ(X·Q).
  const xq = times(xc, basis);
  const small = transposeTimes(xq, xq);
  const { values, vectors } = symmetricEigen(small);
  const components = matrix(k, d);
  for (let c = 0; c < k; c++) {
    let largest = 0;
    for (let f = 0; f < d; f++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += basis.data[f * m + j]! * vectors.data[j * m + c]!;
      components.data[c * d + f] = s;
      if (Math.abs(s) > Math.abs(largest)) largest = s;
    }
    // Deterministic sign (largest-magnitude entry positive), as scikit-learn's svd_flip does.
    if (largest < 0) for (let f = 0; f < d; f++) components.data[c * d + f]! *= -1;
  }
  return {
    mean,
    components,
    explainedVariance: Float64Array.from(values.subarray(0, k), (v) => Math.max(0, v) / (n - 1)),
    totalVariance: frobenius2(xc) / (n - 1),
  };
}

/** Coordinates of each row of x in the PCA basis (n×k). */
export function pcaProject(pca: Pca, x: Matrix): Matrix {
  const { components: c } = pca;
  const out = matrix(x.rows, c.rows);
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < c.rows; j++) {
      let s = 0;
      for (let f = 0; f < c.cols; f++) s += (x.data[r * x.cols + f]! - pca.mean[f]!) * c.data[j * c.cols + f]!;
      out.data[r * c.rows + j] = s;
    }
  }
  return out;
}

/** Rows back in data space from PCA coordinates (n×D). */
export function pcaReconstruct(pca: Pca, z: Matrix): Matrix {
  const { components: c } = pca;
  const out = matrix(z.rows, c.cols);
  for (let r = 0; r < z.rows; r++) {
    const oo = r * c.cols;
    out.data.set(pca.mean, oo);
    for (let j = 0; j < c.rows; j++) {
      const v = z.data[r * c.rows + j]!;
      for (let f = 0; f < c.cols; f++) out.data[oo + f]! += v * c.data[j * c.cols + f]!;
    }
  }
  return out;
}
