import { describe, expect, it } from 'vitest';
import { actionAgreement, calibration, normalisedErrors } from '../../../src/model/label-metrics.js';

describe('action agreement', () => {
  it('is R² = 1 and MAE = 0 for the truth, and R² = 1 − SSE/SST otherwise, per dimension', () => {
    const truth = Float32Array.of(0, 10, 1, 20, 2, 30, 3, 40);
    expect(actionAgreement(truth, truth, 2)).toMatchObject({ r2: [1, 1], mae: [0, 0], meanR2: 1, rows: 4 });
    // A constant truth has no R² (null), and the mean skips it.
    const flat = actionAgreement(Float32Array.of(0, 1, 0, 2), Float32Array.of(5, 1, 5, 2), 2);
    expect(flat.r2[0]).toBeNull();
    expect(flat.meanR2).toBe(1);
    // dim 0 off by +1 everywhere: SSE 4, SST 5 -> 0.2; dim 1 the mean everywhere: R² 0.
    const inferred = Float32Array.of(1, 25, 2, 25, 3, 25, 4, 25);
    const a = actionAgreement(inferred, truth, 2);
    expect(a.r2[0]).toBeCloseTo(0.2, 6);
    expect(a.r2[1]).toBeCloseTo(0, 6);
    expect(a.mae).toEqual([1, 10]);
    expect(a.meanR2).toBeCloseTo(0.1, 6);
  });

  it('measures errors as the worst dimension in units of its range', () => {
    const e = normalisedErrors(Float32Array.of(0.5, 0, 0, 0), Float32Array.of(0, 0, 0, 1), 2, [-1, null], [1, null]);
    // dim 0 range 2 (0.5 / 2 = 0.25); dim 1 unbounded: the truth's spread (1).
    expect(Array.from(e)).toEqual([0.25, 1]);
  });
});

describe('calibration of confidence', () => {
  it('gives AUROC 1 when every wrong label has lower confidence than every right one, 0 when reversed', () => {
    const conf = Float32Array.of(0.1, 0.2, 0.8, 0.9);
    const err = Float32Array.of(0.5, 0.4, 0.01, 0.02);
    const c = calibration(conf, err, 0.1, 2);
    expect(c.auroc).toBe(1);
    expect(c.wrongRate).toBe(0.5);
    expect(c.bins.map((b) => b.wrong)).toEqual([1, 0]);
    expect(c.bins[0]!.steps).toBe(2);
    expect([c.bins[0]!.from, c.bins[0]!.to]).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(c.bins[0]!.meanError).toBeCloseTo(0.45, 6);
    expect(c.spearman).toBeCloseTo(-0.8, 6);
    expect(calibration(Float32Array.of(0.9, 0.8, 0.2, 0.1), err, 0.1).auroc).toBe(0);
  });

  it('is chance (0.5) on ties and NaN when no label is wrong', () => {
    expect(calibration(Float32Array.of(0.5, 0.5, 0.5, 0.5), Float32Array.of(1, 0, 1, 0), 0.5).auroc).toBe(0.5);
    expect(calibration(Float32Array.of(0.1, 0.9), Float32Array.of(0, 0), 0.5).auroc).toBeNaN();
  });
});
