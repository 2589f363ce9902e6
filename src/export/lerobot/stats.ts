/** Dataset statistics of a LeRobot dataset: per-feature stats.json values and per-episode stats columns. */
import type { Feature } from './format.js';
import { ImageHistogram, QUANTILES, QUANTILE_KEYS, numericStats, quantileSorted, type FeatureStats } from '../../dataset/stats.js';
import type { EpisodeRecord } from './metadata.js';

/** Per-episode stats of the small numeric features (`statFeatures`), from one table of consecutive episodes. */
export function addEpisodeStats(data: Record<string, unknown[]>, eps: EpisodeRecord[], features: Record<string, Feature>, statFeatures: string[]): void {
  let r0 = 0;
  for (const e of eps) {
    e.stats = {};
    for (const f of statFeatures) {
      const col = data[f]!;
      const dims = features[f]!.shape[0]!;
      // Row-major values of the episode's rows (a row is a list of dims values, or one scalar).
      const flat = new Float64Array(e.length * dims);
      for (let r = 0; r < e.length; r++) {
        const v = col[r0 + r];
        if (Array.isArray(v)) for (let d = 0; d < dims; d++) flat[r * dims + d] = Number(v[d]);
        else flat[r * dims] = Number(v);
      }
      e.stats[f] = numericStats(flat, e.length, dims);
    }
    r0 += e.length;
  }
}

/**
 * Dataset statistics in bounded memory. Per dimension: count, min, max, mean and std are exact
 * (Welford's streaming update, in row order); quantiles come from a deterministic stride sample:
 * every row while at most SAMPLE_ROWS rows have been seen (exact quantiles), then the sample is
 * halved by keeping every other row whenever it fills up. Large image-like features contribute a
 * few frames per part (like LeRobot's sampled image stats). Equal rows in equal order give equal
 * stats, which is what makes merged shards match a single run.
 */
export class NumericCollector {
  static readonly SAMPLE_ROWS = 200_000;
  /**
   * Image-like features (wider than 64) are sampled every SAMPLE_STRIDE-th row of the dataset,
   * counted from its first row, so the stats do not depend on how rows arrive (per checkpoint part
   * in generate, per episode in merge): a merged dataset's stats equal a single run's.
   */
  private static readonly SAMPLE_STRIDE = 100;
  private readonly acc = new Map<string, Accumulator>();
  /** Rows added so far: the dataset index of the next row. */
  private seen = 0;
  private readonly exact: Set<string>;
  /** `exact`: features kept per dimension even when wider than 64 (extra features such as latents are vectors, not images). */
  constructor(
    private readonly features: Record<string, Feature>,
    exact: string[] = [],
  ) {
    this.exact = new Set(exact);
  }

  add(data: Record<string, unknown[]>, rows: number): void {
    for (const [name, f] of Object.entries(this.features)) {
      if (f.dtype === 'video' || !(name in data)) continue;
      const col = data[name]!;
      const large = (f.shape[0] ?? 1) > 64 && !this.exact.has(name);
      const dims = large ? 1 : f.shape[0]!;
      let acc = this.acc.get(name);
      if (!acc) {
        acc = new Accumulator(dims, NumericCollector.SAMPLE_ROWS);
        this.acc.set(name, acc);
      }
      const stride = large ? NumericCollector.SAMPLE_STRIDE : 1;
      const row = new Float64Array(dims);
      for (let r = (stride - (this.seen % stride)) % stride; r < rows; r += stride) {
        const v = col[r];
        if (large) {
          const xs = v as ArrayLike<number>;
          for (let i = 0; i < xs.length; i++) {
            row[0] = Number(xs[i]);
            acc.add(row);
          }
        } else if (Array.isArray(v) || ArrayBuffer.isView(v)) {
          for (let d = 0; d < dims; d++) row[d] = Number((v as ArrayLike<number>)[d]);
          acc.add(row);
        } else {
          row[0] = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
          acc.add(row);
        }
      }
    }
    this.seen += rows;
  }

  stats(): Record<string, FeatureStats | ReturnType<ImageHistogram['stats']>> {
    const out: Record<string, FeatureStats | ReturnType<ImageHistogram['stats']>> = {};
    for (const [name, a] of this.acc) out[name] = a.stats();
    return out;
  }
}

class Accumulator {
  private n = 0;
  private finite: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private sample: Float32Array;
  private sampled = 0;
  private stride = 1;

  constructor(
    private readonly dims: number,
    private readonly cap: number,
  ) {
    this.finite = new Float64Array(dims);
    this.mean = new Float64Array(dims);
    this.m2 = new Float64Array(dims);
    this.min = new Float64Array(dims).fill(Infinity);
    this.max = new Float64Array(dims).fill(-Infinity);
    this.sample = new Float32Array(Math.min(cap, 1024) * dims);
  }

  add(row: Float64Array): void {
    const D = this.dims;
    for (let d = 0; d < D; d++) {
      const x = row[d]!;
      if (!Number.isFinite(x)) continue; // e.g. +inf depth where nothing is hit
      const k = ++this.finite[d]!;
      const delta = x - this.mean[d]!;
      this.mean[d]! += delta / k;
      this.m2[d]! += delta * (x - this.mean[d]!);
      if (x < this.min[d]!) this.min[d] = x;
      if (x > this.max[d]!) this.max[d] = x;
    }
    if (this.n % this.stride === 0) {
      if ((this.sampled + 1) * D > this.sample.length) {
        if (this.sampled < this.cap) {
          const grown = new Float32Array(Math.min(this.cap, this.sample.length / D * 2) * D);
          grown.set(this.sample);
          this.sample = grown;
        } else {
          // Full: keep every other sampled row, sample half as often from now on.
          for (let i = 0; i < this.sampled / 2; i++) this.sample.copyWithin(i * D, 2 * i * D, 2 * i * D + D);
          this.sampled = Math.ceil(this.sampled / 2);
          this.stride *= 2;
        }
      }
      if (this.n % this.stride === 0) {
        for (let d = 0; d < D; d++) this.sample[this.sampled * D + d] = row[d]!;
        this.sampled++;
      }
    }
    this.n++;
  }

  stats(): FeatureStats {
    const s: FeatureStats = { min: [], max: [], mean: [], std: [], count: [this.n], q01: [], q10: [], q50: [], q90: [], q99: [] };
    const col = new Float64Array(this.sampled);
    for (let d = 0; d < this.dims; d++) {
      let m = 0;
      for (let i = 0; i < this.sampled; i++) {
        const v = this.sample[i * this.dims + d]!;
        if (Number.isFinite(v)) col[m++] = v;
      }
      const sorted = col.subarray(0, m).sort();
      const n = this.finite[d]!;
      s.min.push(n ? this.min[d]! : NaN);
      s.max.push(n ? this.max[d]! : NaN);
      s.mean.push(n ? this.mean[d]! : NaN);
      s.std.push(n ? Math.sqrt(this.m2[d]! / n) : NaN);
      QUANTILES.forEach((q, i) => s[QUANTILE_KEYS[i]!].push(quantileSorted(sorted, q)));
    }
    return s;
  }
}

export const STAT_NAMES = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'] as const;
