import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { matrix, times } from '../../../src/model/linalg.js';
import { fitPca, pcaProject, pcaReconstruct, symmetricEigen } from '../../../src/model/pca.js';

/** Rank-8 data with a decaying spectrum plus a little noise: n=120 rows of D=300 values. */
function lowRankData(seed: number): ReturnType<typeof matrix> {
  const rng = new Rng(seed);
  const n = 120;
  const d = 300;
  const scores = matrix(n, 8);
  for (let r = 0; r < n; r++) for (let j = 0; j < 8; j++) scores.data[r * 8 + j] = rng.normal() * 2 ** (4 - j);
  const loadings = matrix(8, d);
  for (let i = 0; i < loadings.data.length; i++) loadings.data[i] = rng.normal() / Math.sqrt(d);
  const x = times(scores, loadings);
  for (let i = 0; i < x.data.length; i++) x.data[i]! += 0.5 + 0.001 * rng.normal();
  return x;
}

describe('PCA by randomized subspace iteration', () => {
  const x = lowRankData(1);

  it('matches numpy SVD: explained variances and components (up to sign)', () => {
    const pca = fitPca(x, 5, { seed: 7 });
    const ref = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', `
import json, sys, numpy as np
X = np.array(json.load(sys.stdin)).reshape(120, 300)
Xc = X - X.mean(0)
U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
print(json.dumps({"var": (S[:5]**2 / 119).tolist(), "total": float((Xc**2).sum() / 119), "vt": Vt[:5].ravel().tolist()}))`], {
        input: JSON.stringify([...x.data]),
      }).toString(),
    ) as { var: number[]; total: number; vt: number[] };
    ref.var.forEach((v, i) => expect(pca.explainedVariance[i]! / v).toBeCloseTo(1, 8));
    expect(pca.totalVariance / ref.total).toBeCloseTo(1, 10);
    for (let c = 0; c < 5; c++) {
      let dot = 0;
      for (let f = 0; f < 300; f++) dot += pca.components.data[c * 300 + f]! * ref.vt[c * 300 + f]!;
      expect(Math.abs(dot)).toBeCloseTo(1, 8);
    }
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
