import { describe, expect, it } from 'vitest';
import { matrix } from '../../../src/model/linalg.js';
import { fitPca, pcaProject, pcaReconstruct, symmetricEigen } from '../../../src/model/pca.js';
import { lowRankData } from '../../helpers/matrices.js';

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
