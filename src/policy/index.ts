import { TrajforgeError } from '../core/errors.js';
import type { PhysicsEnv } from '../sim/env.js';
import { ExpertPolicy } from './expert.js';
import { OuNoisePolicy } from './noise.js';
import type { Policy, PolicyKind } from './policy.js';
import { RandomPolicy } from './random.js';

export interface PolicyOptions {
  /** Expert: Gaussian noise as a fraction of the half-range. */
  noise?: number;
  /** Expert: probability of a random action per step. */
  epsilon?: number;
}

/** Builds a policy for an environment by kind (the CLI's `--policy`). */
export function makePolicy(kind: PolicyKind, env: PhysicsEnv, opts: PolicyOptions = {}): Policy {
  switch (kind) {
    case 'random':
      return new RandomPolicy(env.actionSpace);
    case 'noise':
      return new OuNoisePolicy(env.actionSpace, { theta: 1.0, sigma: 1.2, dt: 1 / env.spec.fps });
    case 'expert':
      if (env.actionSpace.type !== 'box') throw new TrajforgeError('E_POLICY_INVALID', `${env.spec.id}: the expert needs a continuous action space`);
      return new ExpertPolicy(env.config, env.actionSpace, { noise: opts.noise ?? 0, epsilon: opts.epsilon ?? 0 });
    case 'replay':
      throw new TrajforgeError('E_POLICY_INVALID', 'the replay policy is built from a recorded episode (new ReplayPolicy(actions))');
  }
}

export { ExpertPolicy } from './expert.js';
export { OuNoisePolicy } from './noise.js';
export { RandomPolicy } from './random.js';
export { ReplayPolicy } from './replay.js';
export { POLICY_KINDS, type Policy, type PolicyKind } from './policy.js';
