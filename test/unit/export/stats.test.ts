import { describe, expect, it } from 'vitest';
import { NumericCollector } from '../../../src/export/lerobot/stats.js';
import { ImageHistogram, numericStats, quantileSorted } from '../../../src/dataset/stats.js';

describe('statistics', () => {
  it('numericStats matches numpy conventions (linear quantiles, population std)', () => {
    const s = numericStats([1, 10, 2, 20, 3, 30, 4, 40], 4, 2);
    expect(s.mean).toEqual([2.5, 25]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(s.q50).toEqual([2.5, 25]);
    expect(s.q10[0]).toBeCloseTo(1.3, 12); // numpy.quantile([1,2,3,4], 0.1) = 1.3
    expect(quantileSorted([5], 0.99)).toBe(5);
  });

  it('image histograms give the exact per-channel stats of the pixels, in [0, 1]', () => {
    const px = Uint8Array.from([0, 10, 255, 255, 20, 0, 128, 30, 100]);
    const h = new ImageHistogram(3);
    h.add(px, 1);
    const s = h.stats();
    const r = numericStats(Array.from(px, (v) => v / 255), 3, 3);
    expect((s.mean as number[][][]).map((c) => c[0]![0])).toEqual(r.mean.map((x) => expect.closeTo(x, 12)));
    expect((s.q90 as number[][][]).map((c) => c[0]![0])).toEqual(r.q90.map((x) => expect.closeTo(x, 12)));
    expect(s.count).toEqual([1]);
  });

  it('image histograms count every pixel of any count, odd or even, and accumulate over calls', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    const h = new ImageHistogram(3);
    const naive = new Float64Array(768);
    for (const pixels of [1, 2, 5, 64, 4096, 4097]) {
      // Runs of equal colours, as rendered frames have, and noise.
      const px = Uint8Array.from({ length: 3 * pixels }, (_, i) => (i % 9 < 6 ? 40 + (i % 3) : next()));
      h.add(px, 1);
      for (let i = 0; i < px.length; i++) naive[(i % 3) * 256 + px[i]!]!++;
    }
    expect(Array.from(h.counts)).toEqual(Array.from(naive));
    expect(h.frames).toBe(6);
  });

  it('the streaming collector is exact below its sample cap and bounded above it', () => {
    const features = { x: { dtype: 'float32', shape: [1], names: null } };
    const n = NumericCollector.SAMPLE_ROWS + 50_001;
    const values = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 10));
    const c = new NumericCollector(features);
    for (let i = 0; i < n; i += 1000) c.add({ x: values.slice(i, i + 1000) }, Math.min(1000, n - i));
    const s = c.stats().x as ReturnType<typeof numericStats>;
    const exact = numericStats(values, n, 1);
    expect(s.count).toEqual([n]);
    expect(s.min).toEqual(exact.min);
    expect(s.max).toEqual(exact.max);
    expect(s.mean[0]).toBeCloseTo(exact.mean[0]!, 9);
    expect(s.std[0]).toBeCloseTo(exact.std[0]!, 9);
    // Quantiles from a stride-2 sample of 125k values: within 0.1 of exact on a [-10, 10] range.
    expect(Math.abs(s.q50[0]! - exact.q50[0]!)).toBeLessThan(0.1);
    expect(Math.abs(s.q99[0]! - exact.q99[0]!)).toBeLessThan(0.1);
    const small = new NumericCollector(features);
    small.add({ x: values.slice(0, 5000) }, 5000);
    expect((small.stats().x as ReturnType<typeof numericStats>).q10).toEqual(numericStats(values.slice(0, 5000), 5000, 1).q10);
  });
});
