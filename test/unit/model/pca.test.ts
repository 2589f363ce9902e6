import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { gram, matrix, times, transposeTimes } from '../../../src/model/linalg.js';
import { fitPca, fitPcaOnnx, OnnxProducts, pcaProject, pcaProjectOnnx, pcaReconstruct, symmetricEigen, type Pca } from '../../../src/model/pca.js';
import { lowRankData, randomMatrix } from '../../helpers/matrices.js';

describe('PCA by randomized subspace iteration', () => {
  const x = lowRankData(1);

  it('components are orthonormal eigenvectors of the sample covariance, with its eigenvalues as explained variances', () => {
    const pca = fitPca(x, 5, { seed: 7 });
    const n = x.rows;
    const d = x.cols;
    // The covariance straight from its definition, in float64.
    const mean = Array.from({ length: d }, (_, f) => Array.from({ length: n }, (_, r) => x.data[r * d + f]!).reduce((s, v) => s + v, 0) / n);
    const xc = Float64Array.from(x.data, (v, i) => v - mean[i % d]!);
    const cov = new Float64Array(d * d);
    for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) {
      const v = xc[r * d + i]!;
      for (let j = 0; j < d; j++) cov[i * d + j]! += (v * xc[r * d + j]!) / (n - 1);
    }
    let trace = 0;
    for (let i = 0; i < d; i++) trace += cov[i * d + i]!;
    expect(pca.totalVariance / trace).toBeCloseTo(1, 10);
    const comp = (c: number) => pca.components.data.subarray(c * d, (c + 1) * d);
    for (let c = 0; c < 5; c++) {
      const v = comp(c);
      for (let o = 0; o <= c; o++) expect(comp(o).reduce((s, w, f) => s + w * v[f]!, 0)).toBeCloseTo(o === c ? 1 : 0, 8);
      const lambda = pca.explainedVariance[c]!;
      let residual = 0;
      for (let i = 0; i < d; i++) {
        let cv = 0;
        for (let j = 0; j < d; j++) cv += cov[i * d + j]! * v[j]!;
        residual = Math.max(residual, Math.abs(cv - lambda * v[i]!));
      }
      expect(residual / lambda).toBeLessThan(1e-6);
      if (c > 0) expect(lambda).toBeLessThan(pca.explainedVariance[c - 1]!);
    }
    // The data has rank 8 with variances 2^(8-2j): the top five carry nearly all of it.
    expect(pca.explainedVariance.reduce((s, v) => s + v, 0) / trace).toBeGreaterThan(0.99);
  });

  it('projection and reconstruction lose exactly the unexplained variance', () => {
    const pca = fitPca(x, 8, { seed: 2 });
    const back = pcaReconstruct(pca, pcaProject(pca, x));
    let err = 0;
    for (let i = 0; i < x.data.length; i++) err += (x.data[i]! - back.data[i]!) ** 2;
    const explained = pca.explainedVariance.reduce((s, v) => s + v, 0);
    expect(err / (x.rows - 1)).toBeCloseTo(pca.totalVariance - explained, 8);
    expect(explained / pca.totalVariance).toBeGreaterThan(0.9999);
  });

  it('is deterministic for a seed, and sign-normalised across seeds', () => {
    const a = fitPca(x, 4, { seed: 3 });
    const b = fitPca(x, 4, { seed: 3 });
    expect(Buffer.from(a.components.data.buffer).equals(Buffer.from(b.components.data.buffer))).toBe(true);
    const c = fitPca(x, 4, { seed: 99 });
    for (let i = 0; i < a.components.data.length; i++) expect(c.components.data[i]).toBeCloseTo(a.components.data[i]!, 6);
  });

  it('rejects k outside [1, min(n-1, D)]', () => {
    expect(() => fitPca(x, 0)).toThrow(/k=0/);
    expect(() => fitPca(x, 120)).toThrow(/min\(n-1, D\) = 119/);
  });

  it('symmetric eigen-decomposition: A·v = λ·v, values descending', () => {
    const s = matrix(3, 3, [4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { values, vectors } = symmetricEigen(s);
    expect(values[0]).toBeGreaterThan(values[1]!);
    expect(values[1]).toBeGreaterThan(values[2]!);
    expect(values.reduce((a, v) => a + v, 0)).toBeCloseTo(12, 10);
    for (let c = 0; c < 3; c++) {
      for (let r = 0; r < 3; r++) {
        let av = 0;
        for (let k = 0; k < 3; k++) av += s.data[r * 3 + k]! * vectors.data[k * 3 + c]!;
        expect(av).toBeCloseTo(values[c]! * vectors.data[r * 3 + c]!, 10);
      }
    }
  });
});

describe('PCA with the wide products in onnxruntime (float32)', () => {
  const x = lowRankData(1);
  const products = new OnnxProducts();
  afterAll(() => products.release());
  const fitOnnx = (k: number, seed: number, with_ = products) => fitPcaOnnx(Float32Array.from(x.data), x.rows, x.cols, k, with_, { seed });
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  it('Gemm with either operand transposed matches the float64 products to float32 precision', async () => {
    const rng = new Rng(5);
    const a = randomMatrix(rng, 7, 5);
    const b = randomMatrix(rng, 7, 3);
    const c = randomMatrix(rng, 4, 5);
    const f32 = (m: { data: Float64Array }) => Float32Array.from(m.data);
    expect(maxDiff(await products.gemm(f32(a), [7, 5], f32(b), [7, 3], { a: true }), transposeTimes(a, b).data)).toBeLessThan(1e-5);
    const ct = matrix(5, 4);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) ct.data[j * 4 + i] = c.data[i * 5 + j]!;
    expect(maxDiff(await products.gemm(f32(a), [7, 5], f32(c), [4, 5], { b: true }), times(a, ct).data)).toBeLessThan(1e-5);
    expect(maxDiff(await products.gemm(f32(a), [7, 5], f32(ct), [5, 4]), times(a, ct).data)).toBeLessThan(1e-5);
    await expect(products.gemm(f32(a), [7, 5], f32(b), [7, 3])).rejects.toThrow(/gemm: 7x5 by 7x3/);
  });

  it('agrees with the float64 fit: same components (signs included), variances and mean', async () => {
    const reference = fitPca(x, 5, { seed: 7 });
    const pca = await fitOnnx(5, 7);
    expect(maxDiff(pca.mean, reference.mean)).toBeLessThan(1e-6);
    expect(maxDiff(pca.components.data, reference.components.data)).toBeLessThan(1e-4);
    for (let c = 0; c < 5; c++) expect(pca.explainedVariance[c]! / reference.explainedVariance[c]!).toBeCloseTo(1, 4);
    expect(pca.totalVariance / reference.totalVariance).toBeCloseTo(1, 6);
  });

  it('is deterministic for a seed, whatever the thread count', async () => {
    const same = (a: Pca, b: Pca) => Buffer.from(a.components.data.buffer).equals(Buffer.from(b.components.data.buffer));
    const a = await fitOnnx(4, 3);
    expect(same(a, await fitOnnx(4, 3))).toBe(true);
    const twoThreads = new OnnxProducts({ threads: 2 });
    try {
      expect(same(a, await fitOnnx(4, 3, twoThreads))).toBe(true);
    } finally {
      await twoThreads.release();
    }
  });

  it('projects like pcaProject, centring the batch in place', async () => {
    const pca = fitPca(x, 8, { seed: 2 });
    const batch = Float32Array.from(x.data.subarray(0, 10 * x.cols));
    const z = await pcaProjectOnnx(pca, Float32Array.from(pca.components.data), batch, 10, products);
    expect(maxDiff(z, pcaProject(pca, matrix(10, x.cols, x.data.subarray(0, 10 * x.cols))).data)).toBeLessThan(1e-4);
    expect(batch[0]).toBeCloseTo(x.data[0]! - pca.mean[0]!, 6);
  });

  it('rejects k outside [1, min(n-1, D)] and data of the wrong size', async () => {
    await expect(fitOnnx(120, 0)).rejects.toThrow(/min\(n-1, D\) = 119/);
    await expect(fitPcaOnnx(new Float32Array(10), 3, 4, 1, products)).rejects.toThrow(/3x4 needs 12 values, got 10/);
  });
});

describe('gram', () => {
  it('is aᵀa entry by entry, straight from the definition: tiles and four-row groups with remainders, zeros, symmetry', () => {
    const rng = new Rng(5);
    // 131 columns: two full 64-column tiles and a partial one; 1,031 rows: four 256-row blocks, a partial one, and a remainder of 3 below a group of four.
    const a = randomMatrix(rng, 1031, 131);
    for (let i = 0; i < a.data.length; i += 11) a.data[i] = 0;
    const g = gram(a);
    let worst = 0;
    for (let i = 0; i < 131; i++) {
      for (let j = 0; j < 131; j++) {
        let s = 0;
        for (let r = 0; r < 1031; r++) s += a.data[r * 131 + i]! * a.data[r * 131 + j]!;
        worst = Math.max(worst, Math.abs(g.data[i * 131 + j]! - s) / Math.max(1, Math.abs(s)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
    for (let i = 0; i < 131; i++) for (let j = 0; j < i; j++) expect(g.data[i * 131 + j]).toBe(g.data[j * 131 + i]);
    expect(gram(matrix(0, 3)).data).toEqual(new Float64Array(9));
  });
});
