/** Dataset -> model inputs, shared by the world-model commands (train, eval, predict, encode). */
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import type { DatasetMeta } from '../dataset/meta.js';
import { transitionsFromEpisodes, type Transitions } from '../model/transitions.js';
import { resolveIn } from './progress.js';

/** Frames are box-filtered down to at most this size: dense layers on compact inputs train fast. */
export const MODEL_INPUT_SIZE = 32;

export interface ModelData {
  dir: string;
  meta: DatasetMeta;
  episodes: EpisodeData[];
  transitions: Transitions;
  camera: string;
  downsample: number;
}

/**
 * Reads a LeRobot dataset for a world model: its metadata, every episode's rgb frames of one camera
 * (`camera`, default the first rgb camera) and the transitions at the model's input size.
 * `dataset` is named in errors as given and resolved against `cwd`.
 */
export async function loadModelData(dataset: string, cwd: string | undefined, opts: { camera?: string; downsample?: number }): Promise<ModelData> {
  const dir = resolveIn(cwd, dataset);
  const meta = datasetMeta(dir);
  const cam = opts.camera ? meta.cameras.find((c) => c.name === opts.camera) : meta.cameras.find((c) => c.channels.includes('rgb'));
  if (!cam || !cam.channels.includes('rgb')) {
    throw new TrajforgeError('E_USAGE', `${dataset}: no rgb camera${opts.camera ? ` named '${opts.camera}'` : ''} (cameras: ${meta.cameras.map((c) => c.name).join(', ') || 'none'})`);
  }
  const downsample = opts.downsample ?? defaultDownsample(cam.width, cam.height);
  const episodes: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir, { channels: ['rgb'] })) episodes.push(ep);
  if (episodes.length < 2) throw new TrajforgeError('E_MODEL_SHAPE', `${dataset}: ${episodes.length} episode(s); a world model needs at least 2 (one held out)`);
  const choices = meta.config.actions.discrete?.length;
  const transitions = transitionsFromEpisodes(episodes, { camera: cam.name, downsample, ...(choices ? { choices } : {}) });
  return { dir, meta, episodes, transitions, camera: cam.name, downsample };
}

/**
 * The box-filter factor for a camera: the smallest that brings both sides to MODEL_INPUT_SIZE or
 * below and divides both (80x60 -> 4, 20x15), else the largest common divisor under it (a
 * 97x61 camera is read whole): a factor must divide the frame.
 */
export function defaultDownsample(width: number, height: number): number {
  const wanted = Math.max(1, Math.ceil(Math.max(width, height) / MODEL_INPUT_SIZE));
  const divides = (f: number) => width % f === 0 && height % f === 0;
  for (let f = wanted; f <= Math.min(width, height); f++) if (divides(f)) return f;
  for (let f = wanted - 1; f > 1; f--) if (divides(f)) return f;
  return 1;
}

/** Deterministic split: every 5th episode (by position) is held out for evaluation. */
export function splitEpisodes(count: number): { train: number[]; heldout: number[] } {
  const train: number[] = [];
  const heldout: number[] = [];
  for (let e = 0; e < count; e++) (e % 5 === 4 ? heldout : train).push(e);
  if (heldout.length === 0) heldout.push(train.pop()!);
  return { train, heldout };
}
