import type { Action } from '../core/spaces.js';
import type { EpisodeData } from '../dataset/episode.js';
import { ReplayPolicy } from '../policy/replay.js';
import type { Renderer } from '../render/renderer.js';
import type { PhysicsEnv } from '../sim/env.js';
import { simulateEpisode, type CameraRequest } from './simulate.js';

/** What a stored episode must hold to be replayed: its seed, its actions and the states to retrace. */
export type StoredEpisode = Pick<EpisodeData, 'episode' | 'seed' | 'length' | 'obsDim' | 'obs' | 'actions' | 'actionDim' | 'discrete'>;

export interface Replayed {
  episode: EpisodeData;
  /** Largest |replayed − stored| over the observations (Infinity when the lengths differ): 0 when the replay retraces the episode. */
  maxDeviation: number;
  /** The first observation that differs, or null. */
  firstDivergence: { step: number; index: number; stored: number; replayed: number } | null;
}

/**
 * Re-simulates a stored episode from its seed and recorded actions (rendering `cameras`) and
 * compares the states with the stored ones: the physics is deterministic, so a faithful replay
 * reproduces them bit for bit.
 */
export async function replayEpisode(env: PhysicsEnv, renderer: Renderer, stored: StoredEpisode, cameras: CameraRequest[]): Promise<Replayed> {
  const A = stored.actionDim;
  const actions: Action[] = Array.from({ length: stored.length }, (_, t) => (stored.discrete ? stored.actions[t]! : stored.actions.slice(t * A, (t + 1) * A)));
  const episode = await simulateEpisode(env, new ReplayPolicy(actions), renderer, stored.episode, stored.seed, cameras);
  const D = stored.obsDim;
  let maxDeviation = episode.length === stored.length ? 0 : Infinity;
  let firstDivergence: Replayed['firstDivergence'] = null;
  for (let k = 0; k < Math.min(episode.length, stored.length) * D; k++) {
    const a = stored.obs[k]!;
    const b = episode.obs[k]!;
    if (a === b || (Number.isNaN(a) && Number.isNaN(b))) continue;
    maxDeviation = Math.max(maxDeviation, Math.abs(a - b));
    firstDivergence ??= { step: Math.floor(k / D), index: k % D, stored: a, replayed: b };
  }
  return { episode, maxDeviation, firstDivergence };
}
