import { Rng } from '../core/rng.js';
import { sampleSpace, type Action, type Space } from '../core/spaces.js';
import type { Policy } from './policy.js';

/** Uniform random actions over the action space. */
export class RandomPolicy implements Policy {
  readonly name = 'random';
  private rng = new Rng(0);
  constructor(private readonly space: Space) {}
  reset(seed: number): void {
    this.rng = new Rng(seed);
  }
  act(): Action {
    return sampleSpace(this.space, this.rng);
  }
}
