import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { applyAffine, fitRidge, matrix, times, type Matrix } from '../../../src/model/linalg.js';
import {
  linearCka,
  linearCkaUnbiased,
  linearProbeR2,
  mutualKnnAlignment,
  pixelMse,
  psnr,
  r2Score,
  ssim,
} from '../../../src/model/metrics.js';

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

/** A random orthogonal d×d matrix (Gram–Schmidt on Gaussian columns). */
function randomRotation(rng: Rng, d: number): Matrix {
  const q = randomMatrix(rng, d, d);
  for (let c = 0; c < d; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += q.data[r * d + c]! * q.data[r * d + p]!;
      for (let r = 0; r < d; r++) q.data[r * d + c]! -= dot * q.data[r * d + p]!;
    }
    let norm = 0;
    for (let r = 0; r < d; r++) norm += q.data[r * d + c]! ** 2;
    for (let r = 0; r < d; r++) q.data[r * d + c]! /= Math.sqrt(norm);
  }
  return q;
}

/** Debian's python3-numpy as an independent implementation of the same definitions. */
function numpy(script: string, input: unknown): unknown {
  const code = `import json, sys, numpy as np\nI = json.load(sys.stdin)\n${script}`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { input: JSON.stringify(input) }).toString());
}

describe('pixel metrics', () => {
  it('MSE is on the [0,1] scale for uint8 and float frames alike', () => {
    expect(pixelMse(new Uint8Array([0, 255]), new Uint8Array([255, 255]))).toBeCloseTo(0.5, 12);
    expect(pixelMse(new Float32Array([0, 1]), new Uint8Array([255, 255]))).toBeCloseTo(0.5, 12);
    expect(pixelMse(new Uint8Array([10, 20]), new Uint8Array([10, 20]))).toBe(0);
  });

  it('PSNR of MSE 0.01 is 20 dB, identical frames are +Infinity', () => {
    expect(psnr(0.01)).toBeCloseTo(20, 12);
    expect(psnr(1e-4)).toBeCloseTo(40, 12);
    expect(psnr(0)).toBe(Infinity);
  });

  it('rejects frames of different sizes', () => {
    expect(() => pixelMse(new Uint8Array(3), new Uint8Array(4))).toThrow(/3 values vs 4/);
  });
});

describe('SSIM', () => {
  const rng = new Rng(3);
  const w = 16;
  const h = 12;
  const c = 3;
  const a = Uint8Array.from({ length: w * h * c }, () => rng.int(256));
  const noisy = Uint8Array.from(a, (v) => Math.min(255, Math.max(0, v + Math.round(rng.normal() * 40))));

  it('is 1 for identical frames and falls with noise', () => {
    expect(ssim(a, a, w, h, c)).toBeCloseTo(1, 12);
    const s = ssim(a, noisy, w, h, c);
    expect(s).toBeLessThan(0.95);
    expect(s).toBeGreaterThan(0);
    const inverted = Uint8Array.from(a, (v) => 255 - v);
    expect(ssim(a, inverted, w, h, c)).toBeLessThan(0);
  });

  it('matches a direct per-window numpy evaluation of the skimage definition', () => {
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
});

describe('ridge regression and R²', () => {
  const rng = new Rng(11);
  const x = randomMatrix(rng, 200, 5);
  const trueW = randomMatrix(rng, 5, 3);
  const y = times(x, trueW);
  for (let r = 0; r < y.rows; r++) for (let j = 0; j < 3; j++) y.data[r * 3 + j]! += 0.5 * j + 0.01 * rng.normal();

  it('agrees with numpy least squares (with intercept) when the penalty is 0', () => {
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

  it('a penalty shrinks the weights', () => {
    const norm = (m: Matrix): number => m.data.reduce((s, v) => s + v * v, 0);
    expect(norm(fitRidge(x, y, 10).weights)).toBeLessThan(0.2 * norm(fitRidge(x, y, 0).weights));
  });

  it('R² is 1 for a perfect fit, 0 for predicting the mean, and matches sklearn on a worked case', () => {
    const fit = fitRidge(x, y, 0);
    expect(r2Score(applyAffine(fit, x), y)).toBeGreaterThan(0.999);
    const truth = matrix(4, 2, [1, 10, 2, 20, 3, 30, 4, 40]);
    const meanPred = matrix(4, 2, [2.5, 25, 2.5, 25, 2.5, 25, 2.5, 25]);
    expect(r2Score(meanPred, truth)).toBeCloseTo(0, 12);
    // sklearn.metrics.r2_score([[1,10],[2,20],[3,30],[4,40]], [[1,12],[2,18],[4,30],[4,40]]) = 0.892
    const pred = matrix(4, 2, [1, 12, 2, 18, 4, 30, 4, 40]);
    expect(r2Score(pred, truth)).toBeCloseTo(0.892, 12);
  });

  it('a linear probe decodes a rotated, scaled copy of the state and not independent noise', () => {
    const state = randomMatrix(rng, 600, 4);
    const z = times(state, randomRotation(rng, 4));
    for (let i = 0; i < z.data.length; i++) z.data[i] = 3 * z.data[i]! + 0.01 * rng.normal();
    expect(linearProbeR2(z, state)).toBeGreaterThan(0.999);
    expect(linearProbeR2(randomMatrix(rng, 600, 4), state)).toBeLessThan(0.05);
  });
});

describe('representation alignment', () => {
  const rng = new Rng(5);
  const n = 400;
  const state = randomMatrix(rng, n, 6);

  it('mutual k-NN: identical or scaled features give 1, independent features give about k/n', () => {
    expect(mutualKnnAlignment(state, state, 10)).toBe(1);
    const scaled = matrix(n, 6, state.data.map((v) => 4 * v));
    expect(mutualKnnAlignment(state, scaled, 10)).toBe(1);
    // PRH clips each value at the 95th percentile of |value| before normalising, which is not
    // rotation invariant: a rotated copy keeps most, not all, neighbourhoods.
    const rotated = times(state, randomRotation(rng, 6));
    const r = mutualKnnAlignment(state, rotated, 10);
    expect(r).toBeGreaterThan(0.8);
    expect(r).toBeLessThan(1);
    const chance = mutualKnnAlignment(state, randomMatrix(rng, n, 6), 10);
    expect(chance).toBeGreaterThan(0.005);
    expect(chance).toBeLessThan(0.06); // k/(n-1) = 0.025
  });

  it('CKA: 1 for identical, rotated or scaled features, near 0 for independent ones', () => {
    const rotated = times(state, randomRotation(rng, 6));
    for (let i = 0; i < rotated.data.length; i++) rotated.data[i]! *= 7;
    expect(linearCka(state, state)).toBeCloseTo(1, 10);
    expect(linearCka(state, rotated)).toBeCloseTo(1, 10);
    expect(linearCkaUnbiased(state, rotated)).toBeCloseTo(1, 10);
    const other = randomMatrix(rng, n, 6);
    expect(linearCka(state, other)).toBeLessThan(0.1);
    expect(Math.abs(linearCkaUnbiased(state, other))).toBeLessThan(0.03);
  });

  it('CKA matches numpy evaluations of both HSIC estimators', () => {
    const a = randomMatrix(rng, 50, 4);
    const b = matrix(50, 3);
    for (let r = 0; r < 50; r++) {
      b.data[r * 3] = a.data[r * 4]! ** 2;
      b.data[r * 3 + 1] = a.data[r * 4 + 1]! + rng.normal();
      b.data[r * 3 + 2] = rng.normal();
    }
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
});
