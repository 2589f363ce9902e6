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

/**
 * A policy whose action may come later: an ONNX policy runs in onnxruntime, whose calls are
 * asynchronous. The episode loops take either kind and await only an action that is pending, so
 * a synchronous policy runs as fast as before.
 */
export interface AnyPolicy {
  readonly name: string;
  /**
   * What `act` reads: the environment's observation (the default), or a world model's latent
   * z_t, which only a dream can give it.
   */
  readonly input?: 'observation' | 'latent';
  reset(seed: number): void;
  act(obs: Float32Array, view: WorldView): Action | Promise<Action>;
}

/** True when an action is still to come (a promise); cheap enough for every step. */
export function isPending(a: Action | Promise<Action>): a is Promise<Action> {
  return typeof a === 'object' && typeof (a as { then?: unknown }).then === 'function';
}

export const POLICY_KINDS = ['expert', 'random', 'noise', 'replay'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

/**
 * A run's policy as plain data (it crosses into worker threads and is recorded as the dataset's
 * `run.policy`): a built-in kind, or an ONNX file. `file` is the path as given and `sha256` the
 * file's content hash, which a worker checks when it loads the file and `--resume` compares.
 */
export type PolicySpec =
  | { kind: PolicyKind; noise: number; epsilon: number }
  | { kind: 'onnx'; noise: number; epsilon: number; file: string; sha256: string };
