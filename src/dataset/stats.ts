/**
 * Feature statistics in LeRobot's stats.json layout: {min, max, mean, std, count, q01, q10, q50,
 * q90, q99}. Numeric features get exact per-dimension values (quantiles with numpy's default
 * linear interpolation, population std); uint8 images get exact per-channel values from 256-bin
 * histograms, which merge exactly across episodes and shards.
 */
export const QUANTILES = [0.01, 0.1, 0.5, 0.9, 0.99] as const;
export const QUANTILE_KEYS = ['q01', 'q10', 'q50', 'q90', 'q99'] as const;

export interface FeatureStats {
  min: number[];
  max: number[];
  mean: number[];
  std: number[];
  count: number[];
  q01: number[];
  q10: number[];
  q50: number[];
  q90: number[];
  q99: number[];
}

/** Quantile q of sorted values, linear interpolation between closest ranks (numpy default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const f = pos - lo;
  return (sorted[lo] as number) * (1 - f) + (sorted[hi] as number) * f;
}

/** Exact stats of an N x D row-major matrix, per dimension; non-finite values are skipped. */
export function numericStats(values: ArrayLike<number>, rows: number, dims: number): FeatureStats {
  const s: FeatureStats = { min: [], max: [], mean: [], std: [], count: [rows], q01: [], q10: [], q50: [], q90: [], q99: [] };
  const col = new Float64Array(rows);
  for (let d = 0; d < dims; d++) {
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const v = values[r * dims + d] as number;
      if (Number.isFinite(v)) col[n++] = v;
    }
    const c = col.subarray(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += c[i]!;
    const mean = n ? sum / n : NaN;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (c[i]! - mean) ** 2;
    s.min.push(n ? c[0]! : NaN);
    s.max.push(n ? c[n - 1]! : NaN);
    s.mean.push(mean);
    s.std.push(n ? Math.sqrt(ss / n) : NaN);
    QUANTILES.forEach((q, i) => s[QUANTILE_KEYS[i]!].push(quantileSorted(c, q)));
  }
  return s;
}

/** ImageHistogram.add's scratch tables for rgb (a call's counts stay below 2^32: 4 G pixels). */
const RGB_EVEN = new Uint32Array(768);
const RGB_ODD = new Uint32Array(768);

/** Per-channel 256-bin histograms of uint8 pixels (interleaved channels). */
export class ImageHistogram {
  readonly counts: Float64Array;
  frames = 0;
  constructor(readonly channels: number) {
    this.counts = new Float64Array(256 * channels);
  }
  add(pixels: Uint8Array, frames: number): void {
    const c = this.channels;
    const counts = this.counts;
    if (c === 3) {
      // Neighbouring pixels mostly share a colour, so one table's increments wait on each other;
      // even and odd pixels count into two integer tables, merged per call (4.2 ns a pixel against
      // 7.2–8.3 with one float table, PushCube frames; four tables gained another 5 %).
      const even = RGB_EVEN.fill(0);
      const odd = RGB_ODD.fill(0);
      const n = pixels.length - (pixels.length % 3);
      let i = 0;
      for (; i + 5 < n; i += 6) {
        even[pixels[i]!]!++;
        even[256 + pixels[i + 1]!]!++;
        even[512 + pixels[i + 2]!]!++;
        odd[pixels[i + 3]!]!++;
        odd[256 + pixels[i + 4]!]!++;
        odd[512 + pixels[i + 5]!]!++;
      }
      for (; i < n; i += 3) {
        even[pixels[i]!]!++;
        even[256 + pixels[i + 1]!]!++;
        even[512 + pixels[i + 2]!]!++;
      }
      for (let b = 0; b < 768; b++) counts[b]! += even[b]! + odd[b]!;
    } else for (let i = 0; i < pixels.length; i++) counts[(i % c) * 256 + pixels[i]!]!++;
    this.frames += frames;
  }
  merge(other: ImageHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.frames += other.frames;
  }
  toJSON(): { channels: number; frames: number; counts: number[] } {
    return { channels: this.channels, frames: this.frames, counts: Array.from(this.counts) };
  }
  static fromJSON(j: { channels: number; frames: number; counts: number[] }): ImageHistogram {
    const h = new ImageHistogram(j.channels);
    h.counts.set(j.counts);
    h.frames = j.frames;
    return h;
  }

  /** LeRobot image stats: per channel, shape (C, 1, 1), values in [0, 1]; count = frames. */
  stats(): Record<keyof FeatureStats, number[] | number[][][]> {
    const per: FeatureStats = { min: [], max: [], mean: [], std: [], count: [this.frames], q01: [], q10: [], q50: [], q90: [], q99: [] };
    for (let ch = 0; ch < this.channels; ch++) {
      const h = this.counts.subarray(ch * 256, ch * 256 + 256);
      let n = 0;
      let sum = 0;
      let min = 255;
      let max = 0;
      for (let v = 0; v < 256; v++) {
        const k = h[v]!;
        if (k === 0) continue;
        n += k;
        sum += k * v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const mean = sum / n;
      let ss = 0;
      for (let v = 0; v < 256; v++) ss += h[v]! * (v - mean) ** 2;
      per.min.push(min / 255);
      per.max.push(max / 255);
      per.mean.push(mean / 255);
      per.std.push(Math.sqrt(ss / n) / 255);
      QUANTILES.forEach((q, i) => per[QUANTILE_KEYS[i]!].push(histogramQuantile(h, n, q) / 255));
    }
    const shape = (xs: number[]) => xs.map((x) => [[x]]);
    return {
      min: shape(per.min),
      max: shape(per.max),
      mean: shape(per.mean),
      std: shape(per.std),
      count: per.count,
      q01: shape(per.q01),
      q10: shape(per.q10),
      q50: shape(per.q50),
      q90: shape(per.q90),
      q99: shape(per.q99),
    };
  }
}

/** The same linear-interpolation quantile as quantileSorted, on the sorted values a histogram stands for. */
function histogramQuantile(h: Float64Array, n: number, q: number): number {
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const f = pos - lo;
  const at = (rank: number) => {
    let seen = 0;
    for (let v = 0; v < 256; v++) {
      seen += h[v]!;
      if (rank < seen) return v;
    }
    return 255;
  };
  return at(lo) * (1 - f) + at(Math.min(n - 1, lo + 1)) * f;
}
