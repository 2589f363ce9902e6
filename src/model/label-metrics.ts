/**
 * How good inferred actions are, measured against withheld true ones: agreement per action
 * dimension, and whether the labels' confidence says which labels are wrong. Pure functions over
 * flat arrays (row-major steps × A).
 */
import { choicesOf } from './card.js';
import { matrix } from './linalg.js';
import { r2Average, r2Columns } from './metrics.js';

/** Per action dimension: R² (null where the truth is constant over the rows) and mean absolute error. */
export interface ActionMetrics {
  r2: (number | null)[];
  mae: number[];
  rows: number;
}

/** R² and MAE per action dimension of predicted against true actions over `rows`. */
export function actionMetrics(predicted: Float32Array, truth: Float32Array, rows: ArrayLike<number>, actions: number): ActionMetrics {
  const n = rows.length;
  const picked = { predicted: matrix(n, actions), truth: matrix(n, actions) };
  const abs = new Float64Array(actions);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < actions; k++) {
      const at = rows[i]! * actions + k;
      picked.predicted.data[i * actions + k] = predicted[at]!;
      picked.truth.data[i * actions + k] = truth[at]!;
      abs[k]! += Math.abs(truth[at]! - predicted[at]!);
    }
  }
  const r2 = r2Columns(picked.predicted, picked.truth).map((v) => (Number.isFinite(v) ? v : null));
  return { r2, mae: Array.from(abs, (a) => (n > 0 ? a / n : NaN)), rows: n };
}

export interface ActionAgreement extends ActionMetrics {
  /** Mean of r2 over the dimensions where it is defined (NaN when none is). */
  meanR2: number;
}

/** actionMetrics over every step, with the mean R². */
export function actionAgreement(inferred: Float32Array, truth: Float32Array, A: number): ActionAgreement {
  const m = actionMetrics(inferred, truth, Int32Array.from({ length: truth.length / A }, (_, i) => i), A);
  return { ...m, meanR2: r2Average(m.r2.map((r) => r ?? NaN)) };
}

/**
 * Per-step error as a fraction of each dimension's range (high − low; the true values' spread
 * where the box is unbounded), the largest over the dimensions: 0.1 means some dimension is off
 * by a tenth of its range.
 */
export function normalisedErrors(inferred: Float32Array, truth: Float32Array, A: number, low: readonly (number | null)[], high: readonly (number | null)[]): Float32Array {
  const n = truth.length / A;
  const range = Array.from({ length: A }, (_, i) => {
    const lo = low[i];
    const hi = high[i];
    if (lo !== null && lo !== undefined && hi !== null && hi !== undefined && hi > lo) return hi - lo;
    let mn = Infinity;
    let mx = -Infinity;
    for (let t = 0; t < n; t++) {
      mn = Math.min(mn, truth[t * A + i]!);
      mx = Math.max(mx, truth[t * A + i]!);
    }
    return mx > mn ? mx - mn : 1;
  });
  const out = new Float32Array(n);
  for (let t = 0; t < n; t++) {
    let worst = 0;
    for (let i = 0; i < A; i++) worst = Math.max(worst, Math.abs(inferred[t * A + i]! - truth[t * A + i]!) / range[i]!);
    out[t] = worst;
  }
  return out;
}

export interface CalibrationBin {
  /** Confidence range of the bin (equal-count bins, lowest confidence first). */
  from: number;
  to: number;
  steps: number;
  meanConfidence: number;
  meanError: number;
  /** Fraction of the bin's labels that are wrong (error above the threshold). */
  wrong: number;
}

export interface Calibration {
  bins: CalibrationBin[];
  /** A label is wrong when its normalised error exceeds this. */
  threshold: number;
  /** Fraction of all labels that are wrong. */
  wrongRate: number;
  /**
   * Probability that a wrong label has lower confidence than a right one (area under the ROC
   * curve of 1 − confidence as a detector of wrong labels): 0.5 is no better than chance, 1 is
   * perfect. NaN when every label is right or every label is wrong.
   */
  auroc: number;
  /** Spearman rank correlation of confidence with error (negative: lower confidence, larger error). */
  spearman: number;
}

export function calibration(confidence: Float32Array, error: Float32Array, threshold: number, bins = 10): Calibration {
  const n = confidence.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => confidence[a]! - confidence[b]! || a - b);
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const lo = Math.floor((b * n) / bins);
    const hi = Math.floor(((b + 1) * n) / bins);
    if (hi <= lo) continue;
    let c = 0;
    let e = 0;
    let w = 0;
    for (let k = lo; k < hi; k++) {
      const i = order[k]!;
      c += confidence[i]!;
      e += error[i]!;
      if (error[i]! > threshold) w++;
    }
    const m = hi - lo;
    out.push({ from: confidence[order[lo]!]!, to: confidence[order[hi - 1]!]!, steps: m, meanConfidence: c / m, meanError: e / m, wrong: w / m });
  }
  const wrong = Array.from(error, (e) => e > threshold);
  const positives = wrong.filter(Boolean).length;
  return {
    bins: out,
    threshold,
    wrongRate: n > 0 ? positives / n : 0,
    auroc: auroc(Array.from(confidence, (c) => -c), wrong),
    spearman: pearson(ranks(confidence), ranks(error)),
  };
}

/** Average ranks (ties share their mean rank), 1-based. */
function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n);
  for (let k = 0; k < n; ) {
    let j = k;
    while (j + 1 < n && values[order[j + 1]!] === values[order[k]!]) j++;
    const r = (k + j) / 2 + 1;
    for (let m = k; m <= j; m++) out[order[m]!] = r;
    k = j + 1;
  }
  return out;
}

/** Mann–Whitney form of the ROC area of `score` as a detector of `positive`. */
function auroc(score: number[], positive: boolean[]): number {
  const r = ranks(score);
  let sum = 0;
  let p = 0;
  for (let i = 0; i < score.length; i++) {
    if (positive[i]) {
      sum += r[i]!;
      p++;
    }
  }
  const q = score.length - p;
  if (p === 0 || q === 0) return NaN;
  return (sum - (p * (p + 1)) / 2) / (p * q);
}

function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  if (n < 2) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/** How often the largest inferred value is the choice taken (one-hot truth), and the most frequent choice's share. */
export function choiceAccuracy(inferred: Float32Array, truth: Float32Array, choices: number): { accuracy: number; majority: number } {
  const picked = choicesOf(inferred, choices);
  const taken = choicesOf(truth, choices);
  const counts = new Array<number>(choices).fill(0);
  let hits = 0;
  taken.forEach((k, i) => {
    counts[k]!++;
    if (picked[i] === k) hits++;
  });
  const n = Math.max(1, taken.length);
  return { accuracy: hits / n, majority: Math.max(...counts) / n };
}
