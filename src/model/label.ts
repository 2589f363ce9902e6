/**
 * Labelling: frames without actions -> the actions that explain them. A world model's encoder
 * turns every frame into a latent; its inverse dynamics proposes the action behind each pair of
 * consecutive latents; its forward dynamics, fed that action, predicts the next latent, and how
 * far that prediction lands from the latent actually seen is the label's confidence. Rewards come
 * from the dynamics' reward head under the inferred action.
 *
 * Pure logic (no files, no processes): the model and the frames come in, episodes go out.
 */
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData, EpisodeProvenance } from '../dataset/episode.js';
import { choicesOf, oneHotActions, stateReader, type ModelCard } from './card.js';

/** What labelling needs from a model: WorldModelSession satisfies it. */
export interface LabelModel {
  readonly card: ModelCard;
  /** Consecutive frames of sequences of the given lengths, one array per sequence (see WorldModelSession.encodeSequences). */
  encodeSequences(frames: readonly (Float32Array | Uint8Array)[], lengths: readonly number[]): Promise<Float32Array>;
  step(z: Float32Array, action: Float32Array, n: number): Promise<{ next: Float32Array; reward: Float32Array; done: Float32Array }>;
  inverse(z: Float32Array, zNext: Float32Array, n: number): Promise<Float32Array>;
}

/** A stretch of frames to label: `count` rgb frames at the model's input size, consecutive in time. */
export interface FrameClip {
  frames: Uint8Array;
  count: number;
  provenance: EpisodeProvenance;
}

/** What one labelled clip holds besides its frames: per step t (count − 1 of them) and per frame (latents). */
export interface ClipLabels {
  /** count × L */
  latents: Float32Array;
  /** (count − 1) × A, in environment units, clipped to the action box; for a discrete set, count − 1 choice indices (the largest inferred value). */
  actions: Float32Array;
  /** count − 1: the dynamics' reward under the inferred action. */
  rewards: Float32Array;
  /** count − 1: the dynamics' termination probability under the inferred action. */
  done: Float32Array;
  /** count − 1: mean squared error of the dynamics' next latent against the one encoded. */
  residual: Float32Array;
  /** count − 1: scale / (scale + residual), in (0, 1]; 0.5 is a residual as large as the scale. */
  confidence: Float32Array;
}

/**
 * The residual that maps to confidence 0.5: the model's own one-step latent error from training
 * (the card's `train.latent`, the latent-consistency loss, a mean squared error per latent
 * dimension, as the residual is) when the card has it; otherwise null, and the caller supplies one.
 */
export function cardResidualScale(card: ModelCard): number | null {
  const v = card.training.final['train.latent'];
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
}

/** The action box of a card: [low, high] per dimension, infinite where the environment leaves it unbounded. */
function actionBox(card: ModelCard): { low: Float64Array; high: Float64Array } {
  const low = Float64Array.from(card.action.low, (v) => v ?? -Infinity);
  const high = Float64Array.from(card.action.high, (v) => v ?? Infinity);
  return { low, high };
}

/**
 * Labels several clips with one encoder call and one inverse and dynamics call over all their
 * pairs (onnxruntime's per-call cost is paid once per batch, not per clip). `scale` is the
 * residual that maps to confidence 0.5 (cardResidualScale, or the caller's fallback).
 */
export async function labelClips(model: LabelModel, clips: readonly FrameClip[], scale: number): Promise<ClipLabels[]> {
  const card = model.card;
  const L = card.latent;
  const A = card.action.names.length;
  if (A === 0) throw new TrajforgeError('E_MODEL_SHAPE', `the model (${card.id}, trained on ${card.dataset.env_id}) has no actions to infer: its environment has an empty action space`);
  if (!(scale > 0)) throw new TrajforgeError('E_INTERNAL', `label: the confidence scale must be positive, got ${scale}`);
  const { width, height } = card.input;
  const P = width * height * 3;
  let pairs = 0;
  for (const c of clips) {
    if (c.count < 2) throw new TrajforgeError('E_INTERNAL', `label: a clip of ${c.provenance.file} has ${c.count} frame(s); at least 2 are needed`);
    if (c.frames.length < c.count * P) throw new TrajforgeError('E_INTERNAL', `label: a clip of ${c.provenance.file} holds ${c.frames.length} bytes for ${c.count} frames of ${width}x${height}`);
    pairs += c.count - 1;
  }
  // Bytes, each clip's own: the model scales them to [0, 1] a chunk at a time (a batch of floats is 4x the memory).
  const z = await model.encodeSequences(
    clips.map((c) => c.frames),
    clips.map((c) => c.count),
  );
  let row = 0;

  // Pairs (z_t, z_t+1) within each clip, never across a clip boundary.
  const z0 = new Float32Array(pairs * L);
  const z1 = new Float32Array(pairs * L);
  let pair = 0;
  for (const c of clips) {
    for (let t = 0; t + 1 < c.count; t++, pair++) {
      z0.set(z.subarray((row + t) * L, (row + t + 1) * L), pair * L);
      z1.set(z.subarray((row + t + 1) * L, (row + t + 2) * L), pair * L);
    }
    row += c.count;
  }
  const inferred = await model.inverse(z0, z1, pairs);
  // A discrete set: the choice of the largest value, fed to the dynamics as its one-hot vector.
  const discrete = card.action.discrete ?? false;
  const actions = discrete ? choicesOf(inferred, A) : inferred;
  if (!discrete) {
    const { low, high } = actionBox(card);
    for (let p = 0; p < pairs; p++) {
      for (let i = 0; i < A; i++) {
        const k = p * A + i;
        const v = actions[k]!;
        actions[k] = Number.isFinite(v) ? Math.min(high[i]!, Math.max(low[i]!, v)) : 0;
      }
    }
  }
  const { next, reward, done } = await model.step(z0, discrete ? oneHotActions(actions, A, 'label') : actions, pairs);
  const residual = new Float32Array(pairs);
  for (let p = 0; p < pairs; p++) {
    let s = 0;
    for (let i = 0; i < L; i++) s += (next[p * L + i]! - z1[p * L + i]!) ** 2;
    residual[p] = s / L;
  }

  const out: ClipLabels[] = [];
  const stored = discrete ? 1 : A;
  row = 0;
  pair = 0;
  for (const c of clips) {
    const n = c.count - 1;
    const res = residual.slice(pair, pair + n);
    out.push({
      latents: z.slice(row * L, (row + c.count) * L),
      actions: actions.slice(pair * stored, (pair + n) * stored),
      rewards: reward.slice(pair, pair + n),
      done: done.slice(pair, pair + n),
      residual: res,
      confidence: Float32Array.from(res, (e) => scale / (scale + e)),
    });
    row += c.count;
    pair += n;
  }
  return out;
}

/** Keys of the features a labelled episode carries beside its frames and actions. */
export const LATENT_KEY = 'observation.latent';
export const CONFIDENCE_KEY = 'action.confidence';

/**
 * One labelled clip as an episode: the clip's first count − 1 frames are its observations, the
 * last is the final observation; actions and rewards are inferred; nothing terminates (a video
 * does not say whether its task ended), and the last step is a truncation. The state estimate
 * (`state`, (count) × S, or null) is the observation where the model has one.
 */
export function labelledEpisode(episode: number, clip: FrameClip, labels: ClipLabels, card: ModelCard, state: Float32Array | null): EpisodeData {
  const T = clip.count - 1;
  const L = card.latent;
  const discrete = card.action.discrete ?? false;
  const A = discrete ? 1 : card.action.names.length;
  const { width, height } = card.input;
  const P = width * height * 3;
  const S = state ? state.length / clip.count : 0;
  const truncated = new Uint8Array(T);
  truncated[T - 1] = 1;
  const rgb = (data: Uint8Array) => ({ camera: card.camera, channel: 'rgb' as const, width, height, data });
  return {
    episode,
    seed: 0,
    length: T,
    obsDim: S,
    actionDim: A,
    discrete,
    obs: state ? state.slice(0, T * S) : new Float32Array(0),
    actions: labels.actions,
    rewards: labels.rewards,
    terminated: new Uint8Array(T),
    truncated,
    success: new Uint8Array(T),
    frames: [rgb(clip.frames.subarray(0, T * P))],
    finalObs: state ? state.slice(T * S, (T + 1) * S) : new Float32Array(0),
    finalFrames: [rgb(clip.frames.subarray(T * P, (T + 1) * P))],
    cameras: [],
    bodies: [],
    collisions: [],
    extras: [
      { key: LATENT_KEY, dim: L, data: labels.latents.slice(0, T * L), final: labels.latents.slice(T * L, (T + 1) * L) },
      { key: CONFIDENCE_KEY, dim: 1, names: ['confidence'], data: labels.confidence },
    ],
    provenance: clip.provenance,
    simSeconds: 0,
    renderSeconds: 0,
  };
}

/**
 * The card's state read-out (see ModelCard.state) for `count` latents: count × S values in the
 * order of card.state.names, or null when the model estimates no state.
 */
export function stateEstimate(card: ModelCard, latents: Float32Array, count: number): Float32Array | null {
  const S = card.state.names.length;
  if (S === 0) return null;
  const read = stateReader(card);
  const L = card.latent;
  const out = new Float32Array(count * S);
  for (let t = 0; t < count; t++) read(latents.subarray(t * L, (t + 1) * L), out.subarray(t * S, (t + 1) * S));
  return out;
}
