import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/rng.js';
import { applyAffine, fitRidge, matrix, times, type Matrix } from '../../../src/model/linalg.js';
import {
  linearCka,
  linearCkaUnbiased,
  linearProbeR2,
  linearProbeR2Columns,
  mutualKnnAlignment,
  pixelMse,
  psnr,
  r2Average,
  r2Columns,
  r2Score,
  ssim,
} from '../../../src/model/metrics.js';
import { ckaPair, randomMatrix, randomRotation, ridgeData, ssimFrames } from '../../helpers/matrices.js';

/** The HSIC-based CKA, both estimators, straight from the definitions in float64 (n×n kernels). */
function ckaReference(a: Matrix, b: Matrix): [number, number] {
  const n = a.rows;
  const gram = (m: Matrix) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let k = 0; k < m.cols; k++) s += m.data[i * m.cols + k]! * m.data[j * m.cols + k]!;
    return s;
  }));
  const center = (K: number[][]) => {
    const row = K.map((r) => r.reduce((x, y) => x + y, 0) / n);
    const all = row.reduce((x, y) => x + y, 0) / n;
    return K.map((r, i) => r.map((v, j) => v - row[i]! - row[j]! + all));
  };
  // Biased: tr(K H L H) = <HKH, L>.
  const hsic = (K: number[][], L: number[][]) => center(K).reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * L[i]![j]!, 0), 0);
  // Unbiased (Song et al. 2012): diagonals zeroed.
  const hsicU = (K0: number[][], L0: number[][]) => {
    const K = K0.map((r, i) => r.map((v, j) => (i === j ? 0 : v)));
    const L = L0.map((r, i) => r.map((v, j) => (i === j ? 0 : v)));
    let trKL = 0;
    let sumK = 0;
    let sumL = 0;
    let oneKLone = 0;
    const colL = L.map((r) => r.reduce((x, y) => x + y, 0));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        trKL += K[i]![j]! * L[j]![i]!;
        sumK += K[i]![j]!;
        sumL += L[i]![j]!;
        oneKLone += K[i]![j]! * colL[j]!;
      }
    }
    return (trKL + (sumK * sumL) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * oneKLone) / (n * (n - 3));
  };
  const K = gram(a);
  const L = gram(b);
  return [hsic(K, L) / Math.sqrt(hsic(K, K) * hsic(L, L)), hsicU(K, L) / Math.sqrt(hsicU(K, K) * hsicU(L, L))];
}

/** skimage's SSIM (7x7 windows, sample variances, C1 = 0.01², C2 = 0.03²), window by window in float64. */
function ssimReference(a: Uint8Array, b: Uint8Array, w: number, h: number, c: number): number {
  const win = 7;
  const C1 = 0.01 ** 2;
  const C2 = 0.03 ** 2;
  let total = 0;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i + win <= h; i++) {
      for (let j = 0; j + win <= w; j++) {
        const px: number[] = [];
        const py: number[] = [];
        for (let y = i; y < i + win; y++) for (let x = j; x < j + win; x++) {
          px.push(a[(y * w + x) * c + ch]! / 255);
          py.push(b[(y * w + x) * c + ch]! / 255);
        }
        const N = px.length;
        const mx = px.reduce((s, v) => s + v, 0) / N;
        const my = py.reduce((s, v) => s + v, 0) / N;
        const vx = px.reduce((s, v) => s + (v - mx) ** 2, 0) / (N - 1);
        const vy = py.reduce((s, v) => s + (v - my) ** 2, 0) / (N - 1);
        const cxy = px.reduce((s, v, k) => s + (v - mx) * (py[k]! - my), 0) / (N - 1);
        sum += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        count++;
      }
    }
    total += sum / count;
  }
  return total / c;
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
  const { w, h, c, a, noisy } = ssimFrames();

  it('is 1 for identical frames and falls with noise', () => {
    expect(ssim(a, a, w, h, c)).toBeCloseTo(1, 12);
    const s = ssim(a, noisy, w, h, c);
    expect(s).toBeLessThan(0.95);
    expect(s).toBeGreaterThan(0);
    const inverted = Uint8Array.from(a, (v) => 255 - v);
    expect(ssim(a, inverted, w, h, c)).toBeLessThan(0);
  });

  it('matches a direct per-window float64 evaluation of the skimage definition', () => {
    const expected = ssimReference(a, noisy, w, h, c);
    expect(expected).toBeGreaterThan(0.1);
    expect(ssim(a, noisy, w, h, c)).toBeCloseTo(expected, 10);
  });
});

describe('ridge regression and R²', () => {
  const { rng, x, y } = ridgeData();

  it('is the least-squares fit (with intercept) when the penalty is 0: residuals orthogonal to every column and the ones', () => {
    const fit = fitRidge(x, y, 0);
    const pred = applyAffine(fit, x);
    for (let j = 0; j < 3; j++) {
      const res = Array.from({ length: 200 }, (_, r) => y.data[r * 3 + j]! - pred.data[r * 3 + j]!);
      // The normal equations Aᵀ(Y - A·W) = 0 for A = [X, 1]; the residuals themselves are ~0.01.
      expect(Math.abs(res.reduce((s, v) => s + v, 0))).toBeLessThan(1e-9);
      for (let k = 0; k < 5; k++) expect(Math.abs(res.reduce((s, v, r) => s + v * x.data[r * 5 + k]!, 0))).toBeLessThan(1e-9);
      expect(Math.sqrt(res.reduce((s, v) => s + v * v, 0) / 200)).toBeCloseTo(0.01, 2);
      expect(fit.bias[j]).toBeCloseTo(0.5 * j, 2);
    }
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
    // sklearn's multioutput='raw_values' on the same case: [0.8, 0.984].
    const columns = r2Columns(pred, truth);
    expect(columns[0]).toBeCloseTo(0.8, 12);
    expect(columns[1]).toBeCloseTo(0.984, 12);
  });

  it('a column the truth holds constant has no R² and is left out of the average', () => {
    const truth = matrix(3, 2, [1, 5, 2, 5, 3, 5]);
    const columns = r2Columns(matrix(3, 2, [1, 4, 2, 6, 4, 5]), truth);
    expect(columns[0]).toBeCloseTo(0.5, 12);
    expect(columns[1]).toBeNaN();
    expect(r2Average(columns)).toBeCloseTo(0.5, 12);
    expect(r2Average([NaN, NaN])).toBeNaN();
  });

  it('a linear probe decodes a rotated, scaled copy of the state and not independent noise', () => {
    const state = randomMatrix(rng, 600, 4);
    const z = times(state, randomRotation(rng, 4));
    for (let i = 0; i < z.data.length; i++) z.data[i] = 3 * z.data[i]! + 0.01 * rng.normal();
    expect(linearProbeR2(z, state)).toBeGreaterThan(0.999);
    expect(linearProbeR2(randomMatrix(rng, 600, 4), state)).toBeLessThan(0.05);
    // Per column: the state's columns are decoded, a column of noise beside them is not.
    const noise = randomMatrix(rng, 600, 1);
    const targets = matrix(600, 5);
    for (let r = 0; r < 600; r++) {
      for (let c = 0; c < 4; c++) targets.data[r * 5 + c] = state.data[r * 4 + c]!;
      targets.data[r * 5 + 4] = noise.data[r]!;
    }
    const columns = linearProbeR2Columns(z, targets);
    expect(columns.slice(0, 4).every((v) => v > 0.999)).toBe(true);
    expect(columns[4]).toBeLessThan(0.05);
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

  it('CKA matches float64 evaluations of both HSIC estimators from their definitions', () => {
    const { a, b } = ckaPair(rng);
    const ref = ckaReference(a, b);
    expect(ref[0]).toBeGreaterThan(0.1);
    expect(linearCka(a, b)).toBeCloseTo(ref[0], 10);
    expect(linearCkaUnbiased(a, b)).toBeCloseTo(ref[1], 10);
  });
});
