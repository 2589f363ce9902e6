import type { Action } from '../core/spaces.js';
import type { WorldView } from '../sim/view.js';

/**
 * A policy maps an observation to an action. `view` gives privileged simulator state, which only
 * scripted experts read (learned and random policies must not). `reset(seed)` starts a new
 * episode with its own random stream, so a rollout depends on nothing but the seeds.
 */
export interface Policy {
  readonly name: string;
  reset(seed: number): void;
  act(obs: Float32Array, view: WorldView): Action;
}

export const POLICY_KINDS = ['expert', 'random', 'noise', 'replay'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
