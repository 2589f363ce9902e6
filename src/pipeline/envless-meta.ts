import type { DatasetMeta } from '../dataset/meta.js';
import type { ModelCard } from '../model/card.js';

/** Steps per episode of the model's training data, on average: an episode's length where no environment sets one. */
export function meanEpisodeLength(card: ModelCard): number {
  // The card counts each episode's frames, T + 1 of them for T steps (the last observation's).
  return Math.max(1, Math.round(card.dataset.frames / Math.max(1, card.dataset.episodes)) - 1);
}

/**
 * A dataset's metadata without an environment (label or dream with a model of another tool's
 * dataset): what the model's card records of its training data; no config, no bodies.
 */
export function envlessMeta(card: ModelCard, cameras: DatasetMeta['cameras'], run: DatasetMeta['run'], fps: number): DatasetMeta {
  return {
    envId: card.dataset.env_id,
    configHash: card.dataset.config_hash,
    instruction: card.dataset.env_id,
    fps,
    observationNames: [...card.state.names],
    actionNames: [...card.action.names],
    discrete: card.action.discrete ?? false,
    cameras,
    bodyNames: [],
    run,
  };
}
