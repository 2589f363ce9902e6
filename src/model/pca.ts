/**
 * Principal component analysis of wide data (frames: thousands of pixels per row) by randomized
 * subspace iteration (Halko, Martinsson & Tropp 2011): never forms the D×D covariance, costs
 * O(n·D·(k+p)) per pass, and is seeded so the same data always gives the same components. The
 * final Rayleigh–Ritz step on the small (k+p)×(k+p) problem makes the leading components exact to
 * float precision once the subspace has converged.
 *
 * Two drivers share the algorithm: fitPca runs the wide products as float64 JS loops (exact, for
 * small D), fitPcaOnnx as onnxruntime's float32 Gemm (MLAS), which fits 64 components of 2000
 * frames of 64x64x3 = 12288 values in ~3 s where the JS loops take ~54 s; the small steps
 * (orthonormalisation, the eigenproblem, signs) are the same float64 code in both.
 */
import { TrajforgeError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { centerColumns, columnMeans, frobenius2, matrix, times, transposeTimes, type Matrix } from './linalg.js';
import { OnnxGraph } from './onnx/graph.js';
import { OnnxModel, type OnnxModelOptions } from './onnx/runtime.js';

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

/** Subspace size: k plus the oversampling, within the data's rank bound. */
function subspaceSize(n: number, d: number, k: number, options: PcaOptions): number {
  if (!(k >= 1 && k <= Math.min(n - 1, d))) {
    throw new TrajforgeError('E_MODEL_SHAPE', `fitPca: k=${k} must be between 1 and min(n-1, D) = ${Math.min(n - 1, d)}`);
  }
  return Math.min(k + (options.oversample ?? 10), n - 1, d);
}

/** The seeded D×m Gaussian start of the subspace iteration. */
function startingBasis(d: number, m: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const basis = matrix(d, m);
  for (let i = 0; i < basis.data.length; i++) basis.data[i] = rng.normal();
  return basis;
}

/**
 * Rayleigh–Ritz: eigen-decomposes the small projected covariance (X·Q)ᵀ(X·Q) of the converged
 * basis Q (D×m) and turns its top k eigenvectors into components, sign-fixed.
 */
function ritzComponents(basis: Matrix, xq: Matrix, k: number, n: number, mean: Float64Array, totalSquares: number): Pca {
  const { rows: d, cols: m } = basis;
  const { values, vectors } = symmetricEigen(transposeTimes(xq, xq));
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
    totalVariance: totalSquares / (n - 1),
  };
}

/** Fits k principal components of the rows of x (n×D), in float64 JS. */
export function fitPca(x: Matrix, k: number, options: PcaOptions = {}): Pca {
  const { rows: n, cols: d } = x;
  const m = subspaceSize(n, d, k, options);
  const xc = centerColumns(x);
  let basis = startingBasis(d, m, options.seed ?? 0);
  // Subspace iteration on XᵀX: basis <- orth(Xᵀ·orth(X·basis)).
  for (let it = 0; it <= (options.iterations ?? 4); it++) {
    const y = times(xc, basis);
    orthonormaliseColumns(y);
    basis = transposeTimes(xc, y);
    orthonormaliseColumns(basis);
  }
  return ritzComponents(basis, times(xc, basis), k, n, columnMeans(x), frobenius2(xc));
}

/**
 * op(a)·op(b) for row-major float32 matrices in onnxruntime's Gemm, op a transpose where asked:
 * one small graph per transpose combination, loaded on first use. MLAS splits the output, not
 * the sums, among threads, so results do not depend on the thread count.
 */
export class OnnxProducts {
  private readonly models = new Map<string, Promise<OnnxModel>>();

  constructor(private readonly options: OnnxModelOptions = {}) {}

  async gemm(a: Float32Array, aShape: readonly [number, number], b: Float32Array, bShape: readonly [number, number], transpose: { a?: boolean; b?: boolean } = {}): Promise<Float32Array> {
    const ta = transpose.a ? 1 : 0;
    const tb = transpose.b ? 1 : 0;
    const inner = [aShape[1 - ta]!, bShape[tb]!];
    if (inner[0] !== inner[1]) throw new TrajforgeError('E_MODEL_SHAPE', `gemm: ${aShape.join('x')}${ta ? 'ᵀ' : ''} by ${bShape.join('x')}${tb ? 'ᵀ' : ''}`);
    const key = `${ta}${tb}`;
    let model = this.models.get(key);
    if (!model) {
      const g = new OnnxGraph(`trajforge_gemm_${key}`);
      const y = g.node('Gemm', [g.input('a', ['a0', 'a1']), g.input('b', ['b0', 'b1'])], { transA: { int: ta }, transB: { int: tb } });
      g.output(y, 'y', ['rows', 'cols']);
      model = OnnxModel.load(g.toBytes(), this.options);
      this.models.set(key, model);
    }
    const feeds = { a: { data: a, dims: aShape }, b: { data: b, dims: bShape } };
    const y = (await (await model).run(feeds, ['y'])).y!.data;
    if (!(y instanceof Float32Array)) throw new TrajforgeError('E_INTERNAL', 'gemm: onnxruntime returned a non-float32 product');
    return y;
  }

  async release(): Promise<void> {
    // A graph that failed to load has already failed its caller; there is nothing to release.
    for (const model of this.models.values()) await model.then((m) => m.release(), () => undefined);
    this.models.clear();
  }
}

/**
 * Fits k principal components of the rows of x (n×D, row-major float32), the wide products in
 * onnxruntime's float32 Gemm: components agree with fitPca's to float32 precision, and the same
 * seed gives the same numbers. x is centred in place (it is the caller's scratch sample: a copy
 * would double the largest allocation of the fit).
 */
export async function fitPcaOnnx(x: Float32Array, n: number, d: number, k: number, products: OnnxProducts, options: PcaOptions = {}): Promise<Pca> {
  if (x.length !== n * d) throw new TrajforgeError('E_MODEL_SHAPE', `fitPcaOnnx: ${n}x${d} needs ${n * d} values, got ${x.length}`);
  const m = subspaceSize(n, d, k, options);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let f = 0; f < d; f++) mean[f]! += x[r * d + f]!;
  for (let f = 0; f < d; f++) mean[f]! /= n;
  let totalSquares = 0;
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < d; f++) {
      const v = x[r * d + f]! - mean[f]!;
      totalSquares += v * v;
      x[r * d + f] = v;
    }
  }
  const product = async (b: Matrix, transposeX: boolean) =>
    matrix(transposeX ? d : n, b.cols, await products.gemm(x, [n, d], Float32Array.from(b.data), [b.rows, b.cols], { a: transposeX }));
  let basis = startingBasis(d, m, options.seed ?? 0);
  for (let it = 0; it <= (options.iterations ?? 4); it++) {
    const y = await product(basis, false);
    orthonormaliseColumns(y);
    basis = await product(y, true);
    orthonormaliseColumns(basis);
  }
  return ritzComponents(basis, await product(basis, false), k, n, mean, totalSquares);
}

/**
 * pcaProject for float32 rows (n×D) in onnxruntime: the batch is centred in place, then one Gemm
 * against the components; `components` is pca.components as float32 (convert it once per fit).
 */
export async function pcaProjectOnnx(pca: Pca, components: Float32Array, x: Float32Array, n: number, products: OnnxProducts): Promise<Float32Array> {
  const { rows: k, cols: d } = pca.components;
  for (let r = 0; r < n; r++) for (let f = 0; f < d; f++) x[r * d + f]! -= pca.mean[f]!;
  return products.gemm(x, [n, d], components, [k, d], { b: true });
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
