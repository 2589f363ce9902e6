import { Rng } from '../core/rng.js';
import type { Action, Space } from '../core/spaces.js';
import type { Policy } from './policy.js';

export interface OuOptions {
  /** Mean-reversion rate (1/s). */
  theta: number;
  /** Noise scale, as a fraction of each dimension's half-range per sqrt(second). */
  sigma: number;
  /** Control period in seconds. */
  dt: number;
}

/**
 * Temporally correlated exploration (Ornstein-Uhlenbeck): smooth, wandering actions that move
 * objects much further than white noise does, a better prior for world-model data. On a discrete
 * space the OU state picks among the choices.
 */
export class OuNoisePolicy implements Policy {
  readonly name = 'noise';
  private rng = new Rng(0);
  private readonly x: Float64Array;
  constructor(
    private readonly space: Space,
    private readonly opts: OuOptions = { theta: 1.0, sigma: 1.2, dt: 0.05 },
  ) {
    this.x = new Float64Array(space.type === 'box' ? space.shape[0] : 1);
  }
  reset(seed: number): void {
    this.rng = new Rng(seed);
    // Start from the stationary distribution, not from zero, so early steps move too.
    const sd = this.opts.sigma / Math.sqrt(2 * this.opts.theta);
    for (let i = 0; i < this.x.length; i++) this.x[i] = Math.max(-1, Math.min(1, sd * this.rng.normal()));
  }
  act(): Action {
    const { theta, sigma, dt } = this.opts;
    for (let i = 0; i < this.x.length; i++) {
      const xi = this.x[i] as number;
      this.x[i] = Math.max(-1.5, Math.min(1.5, xi - theta * xi * dt + sigma * Math.sqrt(dt) * this.rng.normal()));
    }
    if (this.space.type === 'discrete') {
      const u = (Math.max(-1, Math.min(1, this.x[0] as number)) + 1) / 2;
      return Math.min(this.space.n - 1, Math.floor(u * this.space.n));
    }
    const out = new Float32Array(this.x.length);
    for (let i = 0; i < out.length; i++) {
      const lo = this.space.low[i] as number;
      const hi = this.space.high[i] as number;
      const u = Math.max(-1, Math.min(1, this.x[i] as number));
      out[i] = lo + ((u + 1) / 2) * (hi - lo);
    }
    return out;
  }
}
