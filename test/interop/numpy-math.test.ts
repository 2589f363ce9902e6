import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { fitRidge } from '../../src/model/linalg.js';
import { linearCka, linearCkaUnbiased, ssim } from '../../src/model/metrics.js';
import { fitPca } from '../../src/model/pca.js';
import { ckaPair, lowRankData, ridgeData, ssimFrames } from '../helpers/matrices.js';
import { numpy } from './python.js';

/** numpy as an independent implementation of the metrics' and PCA's definitions. */
describe('metrics and PCA agree with numpy', () => {
  it('SSIM matches a direct per-window numpy evaluation of the skimage definition', () => {
    const { w, h, c, a, noisy } = ssimFrames();
    const expected = numpy(
      `
w, h, c = I["w"], I["h"], I["c"]
x = np.array(I["a"], float).reshape(h, w, c) / 255
y = np.array(I["b"], float).reshape(h, w, c) / 255
win = 7; C1 = 0.01**2; C2 = 0.03**2
per = []
for ch in range(c):
    vals = []
    for i in range(h - win + 1):
        for j in range(w - win + 1):
            px = x[i:i+win, j:j+win, ch].ravel(); py = y[i:i+win, j:j+win, ch].ravel()
            mx, my = px.mean(), py.mean()
            vx, vy = px.var(ddof=1), py.var(ddof=1)
            cxy = np.cov(px, py, ddof=1)[0, 1]
            vals.append((2*mx*my + C1)*(2*cxy + C2) / ((mx*mx + my*my + C1)*(vx + vy + C2)))
    per.append(np.mean(vals))
print(json.dumps(float(np.mean(per))))`,
      { w, h, c, a: [...a], b: [...noisy] },
    ) as number;
    expect(ssim(a, noisy, w, h, c)).toBeCloseTo(expected, 10);
  });

  it('ridge regression with penalty 0 agrees with numpy least squares (with intercept)', () => {
    const { x, y } = ridgeData();
    const fit = fitRidge(x, y, 0);
    const ref = numpy(
      `
X = np.array(I["x"]).reshape(200, 5); Y = np.array(I["y"]).reshape(200, 3)
A = np.hstack([X, np.ones((200, 1))])
sol = np.linalg.lstsq(A, Y, rcond=None)[0]
print(json.dumps({"w": sol[:5].ravel().tolist(), "b": sol[5].tolist()}))`,
      { x: [...x.data], y: [...y.data] },
    ) as { w: number[]; b: number[] };
    ref.w.forEach((v, i) => expect(fit.weights.data[i]).toBeCloseTo(v, 8));
    ref.b.forEach((v, i) => expect(fit.bias[i]).toBeCloseTo(v, 8));
  });

  it('CKA matches numpy evaluations of both HSIC estimators', () => {
    const { a, b } = ckaPair(new Rng(5));
    const ref = numpy(
      `
A = np.array(I["a"]).reshape(50, 4); B = np.array(I["b"]).reshape(50, 3); n = 50
H = np.eye(n) - np.ones((n, n)) / n
def hsic(K, L): return np.trace(K @ H @ L @ H)
def hsic_u(K, L):
    K = K.copy(); L = L.copy(); np.fill_diagonal(K, 0); np.fill_diagonal(L, 0); one = np.ones(n)
    return (np.trace(K @ L) + one @ K @ one * (one @ L @ one) / ((n-1)*(n-2)) - 2/(n-2) * one @ K @ L @ one) / (n*(n-3))
K = A @ A.T; L = B @ B.T
print(json.dumps([hsic(K, L)/np.sqrt(hsic(K, K)*hsic(L, L)), hsic_u(K, L)/np.sqrt(hsic_u(K, K)*hsic_u(L, L))]))`,
      { a: [...a.data], b: [...b.data] },
    ) as [number, number];
    expect(linearCka(a, b)).toBeCloseTo(ref[0], 10);
    expect(linearCkaUnbiased(a, b)).toBeCloseTo(ref[1], 10);
  });

  it('PCA matches numpy SVD: explained variances and components (up to sign)', () => {
    const x = lowRankData(1);
    const pca = fitPca(x, 5, { seed: 7 });
    const ref = numpy(
      `
X = np.array(I).reshape(120, 300)
Xc = X - X.mean(0)
U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
print(json.dumps({"var": (S[:5]**2 / 119).tolist(), "total": float((Xc**2).sum() / 119), "vt": Vt[:5].ravel().tolist()}))`,
      [...x.data],
    ) as { var: number[]; total: number; vt: number[] };
    ref.var.forEach((v, i) => expect(pca.explainedVariance[i]! / v).toBeCloseTo(1, 8));
    expect(pca.totalVariance / ref.total).toBeCloseTo(1, 10);
    for (let c = 0; c < 5; c++) {
      let dot = 0;
      for (let f = 0; f < 300; f++) dot += pca.components.data[c * 300 + f]! * ref.vt[c * 300 + f]!;
      expect(Math.abs(dot)).toBeCloseTo(1, 8);
    }
  });
});
