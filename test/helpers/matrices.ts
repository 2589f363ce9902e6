/** Random and structured matrices shared by the metrics and PCA tests (unit and interop). */
import { Rng } from '../../src/core/rng.js';
import { matrix, times, type Matrix } from '../../src/model/linalg.js';

export function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

/** A random orthogonal d×d matrix (Gram–Schmidt on Gaussian columns). */
export function randomRotation(rng: Rng, d: number): Matrix {
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

/** Rank-8 data with a decaying spectrum plus a little noise: n=120 rows of D=300 values. */
export function lowRankData(seed: number): Matrix {
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

/** The SSIM test frames: a random 16x12 RGB frame and a copy with Gaussian noise (sd 40). */
export function ssimFrames() {
  const rng = new Rng(3);
  const w = 16;
  const h = 12;
  const c = 3;
  const a = Uint8Array.from({ length: w * h * c }, () => rng.int(256));
  const noisy = Uint8Array.from(a, (v) => Math.min(255, Math.max(0, v + Math.round(rng.normal() * 40))));
  return { w, h, c, a, noisy };
}

/** The ridge test data: y = x·W + per-column offsets 0.5·j + noise 0.01, 200 rows, 5 -> 3. */
export function ridgeData() {
  const rng = new Rng(11);
  const x = randomMatrix(rng, 200, 5);
  const trueW = randomMatrix(rng, 5, 3);
  const y = times(x, trueW);
  for (let r = 0; r < y.rows; r++) for (let j = 0; j < 3; j++) y.data[r * 3 + j]! += 0.5 * j + 0.01 * rng.normal();
  return { rng, x, y };
}

/** The CKA cross-check pair: a (50x4) and b (50x3) with b = [a0², a1 + noise, noise]. */
export function ckaPair(rng: Rng) {
  const a = randomMatrix(rng, 50, 4);
  const b = matrix(50, 3);
  for (let r = 0; r < 50; r++) {
    b.data[r * 3] = a.data[r * 4]! ** 2;
    b.data[r * 3 + 1] = a.data[r * 4 + 1]! + rng.normal();
    b.data[r * 3 + 2] = rng.normal();
  }
  return { a, b };
}
