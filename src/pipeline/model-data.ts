/** Dataset -> model inputs, shared by the world-model commands (train, eval, predict, encode). */
import { TrajforgeError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { EpisodeData } from '../dataset/episode.js';
import { datasetMeta } from '../export/lerobot/episodes.js';
import { openDataset, type Dataset, type DatasetInfo } from '../dataset/open.js';
import type { DatasetMeta } from '../dataset/meta.js';
import { modelActions, type ModelActions } from '../model/card.js';
import { transitionsFromEpisodes, type Transitions } from '../model/transitions.js';
import { resolveIn } from './progress.js';

/** Frames are box-filtered down to at most this size: dense layers on compact inputs train fast. */
export const MODEL_INPUT_SIZE = 32;

/** What a world model knows of the dataset it reads: trajforge's record, or what another tool's LeRobot dataset declares. */
export interface ModelDatasetMeta extends Pick<DatasetInfo, 'envId' | 'configHash' | 'fps' | 'observationNames' | 'actionNames' | 'discrete' | 'cameras' | 'writtenBy' | 'extraFeatures' | 'source'> {
  /** The environment's config (trajforge's datasets only). */
  config?: DatasetMeta['config'];
}

export interface ModelData {
  dir: string;
  meta: ModelDatasetMeta;
  /** The model's action space: the config's bounds or choices; another tool's actions are unbounded (the data's range normalises them). */
  actions: ModelActions;
  /** The episodes read, without their frames (the transitions hold the camera's, at the model's input size). */
  episodes: EpisodeData[];
  transitions: Transitions;
  camera: string;
  downsample: number;
}

/**
 * A dataset opened for a world model. Another tool's LeRobot v3 dataset has no environment
 * config: its config hash is that of what its info.json declares (robot type, fps, state,
 * action and camera features), so a model's card still tells its data from another's.
 */
export interface ModelDataset {
  dataset: Dataset;
  meta: ModelDatasetMeta;
  actions: ModelActions;
  /** The episodes in order with their rgb frames, each closed by its final observation (see withLastRowAsFinal). */
  episodes(): AsyncGenerator<EpisodeData>;
}

export async function openModelDataset(dir: string): Promise<ModelDataset> {
  const dataset = await openDataset(dir);
  const i = dataset.info;
  const base = { envId: i.envId, fps: i.fps, observationNames: i.observationNames, actionNames: i.actionNames, discrete: i.discrete, cameras: i.cameras, writtenBy: i.writtenBy, ...(i.extraFeatures ? { extraFeatures: i.extraFeatures } : {}), ...(i.source ? { source: i.source } : {}) };
  if (i.writtenBy === 'trajforge') {
    const config = datasetMeta(dataset.dir).config;
    // Episodes labelled by a model of another tool's dataset record no environment: their actions' bounds are unknown.
    const actions = config ? modelActions(config.actions) : unboundedActions(i.actionNames);
    return { dataset, meta: { ...base, configHash: i.configHash, ...(config ? { config } : {}) }, actions, episodes: () => dataset.episodes({ channels: ['rgb'] }) };
  }
  const configHash = foreignConfigHash(i);
  async function* episodes(): AsyncGenerator<EpisodeData> {
    for await (const ep of dataset.episodes({ channels: ['rgb'] })) yield withLastRowAsFinal(ep);
  }
  return { dataset, meta: { ...base, configHash }, actions: unboundedActions(i.actionNames), episodes };
}

/**
 * Another tool's dataset records no environment: what its info.json declares (robot type, fps,
 * state, action and camera features) stands in for the config a hash identifies.
 */
export function foreignConfigHash(i: Pick<DatasetInfo, 'envId' | 'fps' | 'observationNames' | 'actionNames' | 'cameras'>): string {
  return sha256Hex(JSON.stringify({ envId: i.envId, fps: i.fps, observationNames: i.observationNames, actionNames: i.actionNames, cameras: i.cameras }));
}

function unboundedActions(names: string[]): ModelActions {
  return { names, low: names.map(() => -Infinity), high: names.map(() => Infinity), discrete: false };
}

/**
 * Another tool's episode as transitions: LeRobot's rows stop at the last action, and no
 * observation after it is stored, so the last row's frame and state become the final
 * observation and its action (whose outcome is unseen) is dropped: T rows, T − 1 steps.
 */
export function withLastRowAsFinal(ep: EpisodeData): EpisodeData {
  const T = ep.length - 1;
  if (T < 0) return ep;
  const rows = <A extends Float32Array | Uint8Array>(a: A, width: number) => a.subarray(0, T * width) as A;
  const split = (f: EpisodeData['frames'][number], keep: number) => {
    const size = f.data.length / ep.length;
    return { ...f, data: keep === T ? f.data.subarray(0, T * size) : f.data.subarray(T * size, (T + 1) * size) };
  };
  return {
    ...ep,
    length: T,
    obs: rows(ep.obs, ep.obsDim),
    actions: rows(ep.actions, ep.discrete ? 1 : ep.actionDim),
    rewards: rows(ep.rewards, 1),
    terminated: rows(ep.terminated, 1),
    truncated: rows(ep.truncated, 1),
    success: rows(ep.success, 1),
    frames: ep.frames.map((f) => split(f, T)),
    finalObs: ep.obs.slice(T * ep.obsDim, (T + 1) * ep.obsDim),
    finalFrames: ep.frames.map((f) => split(f, 1)),
  } as EpisodeData;
}

/** A dataset's ModelDatasetMeta alone (to check a model against it before reading anything). */
export async function readModelDatasetMeta(dir: string): Promise<ModelDatasetMeta> {
  const { dataset, meta } = await openModelDataset(dir);
  await dataset.close();
  return meta;
}

/**
 * Reads a LeRobot dataset for a world model: its metadata, every episode's rgb frames of one camera
 * (`camera`, default the first rgb camera) and the transitions at the model's input size.
 * `dataset` is named in errors as given and resolved against `cwd`.
 */
export async function loadModelData(dataset: string, cwd: string | undefined, opts: { camera?: string; downsample?: number }): Promise<ModelData> {
  const { dataset: ds, meta, actions, episodes: read } = await openModelDataset(resolveIn(cwd, dataset));
  try {
    const cam = opts.camera ? meta.cameras.find((c) => c.name === opts.camera) : meta.cameras.find((c) => c.channels.includes('rgb'));
    if (!cam || !cam.channels.includes('rgb')) {
      throw new TrajforgeError('E_USAGE', `${dataset}: no rgb camera${opts.camera ? ` named '${opts.camera}'` : ''} (cameras: ${meta.cameras.map((c) => c.name).join(', ') || 'none'})`);
    }
    const downsample = opts.downsample ?? defaultDownsample(cam.width, cam.height);
    // Only the model's camera's frames are kept while reading (another camera's would double
    // the memory of a two-camera dataset), and none once the transitions hold their copy.
    const episodes: EpisodeData[] = [];
    const own = (frames: EpisodeData['frames']) => frames.filter((f) => f.camera === cam.name && f.channel === 'rgb');
    for await (const ep of read()) episodes.push({ ...ep, frames: own(ep.frames), finalFrames: own(ep.finalFrames) });
    if (episodes.length < 2) throw new TrajforgeError('E_MODEL_SHAPE', `${dataset}: ${episodes.length} episode(s); a world model needs at least 2 (one held out)`);
    if (episodes.every((ep) => ep.length === 0)) {
      const why = meta.writtenBy === 'trajforge' ? '' : " (another tool's LeRobot episode of T rows gives T - 1 steps: no frame follows its last action)";
      throw new TrajforgeError('E_MODEL_SHAPE', `${dataset}: no episode has a step, a frame and the next${why}; a world model learns from steps`);
    }
    const transitions = transitionsFromEpisodes(episodes, { camera: cam.name, downsample, ...(actions.discrete ? { choices: actions.names.length } : {}) });
    const withoutFrames = episodes.map((ep) => ({ ...ep, frames: [], finalFrames: [] }));
    return { dir: ds.dir, meta, actions, episodes: withoutFrames, transitions, camera: cam.name, downsample };
  } finally {
    await ds.close();
  }
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
