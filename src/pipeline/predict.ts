import { mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { openModelDataset } from './model-data.js';
import { readInfo } from '../export/lerobot/reader.js';
import { checkFileOutput } from '../output/folder.js';
import { removeOwn } from '../output/remove.js';
import { cardTransitionOptions, checkModelTarget, datasetTarget } from '../model/card.js';
import { predictWindow } from '../model/evaluate.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { frameRows, transitionsFromEpisodes } from '../model/transitions.js';
import { VideoEncoder } from '../video/ffmpeg.js';
import { checkInt, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** White gap between the truth | prediction | error panels, in output pixels. */
export const PANEL_GAP = 2;
/** Error panel: |truth − prediction| times this, clipped to 1. */
export const ERROR_GAIN = 4;
/** Largest upscale factor. */
export const MAX_SCALE = 64;

/** Output video size for a model of width × height at an integer scale (even, for yuv420p). */
export function predictFrameSize(width: number, height: number, scale: number): { width: number; height: number } {
  const w = 3 * width * scale + 2 * PANEL_GAP;
  const h = height * scale;
  return { width: w + (w % 2), height: h + (h % 2) };
}

/** predict: the open-loop window (0 of 1, then 1 of 1); write: one event per video frame. */
export type PredictProgress = StageProgress<'predict' | 'write'>;

export interface PredictOptions extends PipelineCallbacks<PredictProgress> {
  /** A trajforge LeRobot dataset of the model's environment; named in errors as given. */
  dataset: string;
  /** A model folder (trajforge train). */
  model: string;
  /** The episode to predict (0-based, by position in the dataset). */
  episode: number;
  /** The mp4 file to write; an existing file is replaced only with `overwrite`. */
  out: string;
  overwrite?: boolean;
  /** Context frames (>= 1): the prediction starts from frame context - 1. Default 1. */
  context?: number;
  /** Predicted steps (>= 1; default: to the episode's end). */
  horizon?: number;
  /** Integer upscale of each panel (1 to 64). Default 4. */
  scale?: number;
}

export interface PredictSummary {
  /** The absolute path of the written video. */
  file: string;
  modelId: string;
  episode: number;
  /** The frame the prediction starts from. */
  contextFrame: number;
  horizon: number;
  /** Video frame size: truth | prediction | error panels, upscaled. */
  width: number;
  height: number;
  /** The error panel's gain (|truth − prediction| times this). */
  errorGain: number;
  /** Per-pixel MSE of each predicted step against the truth (at the model's decoded size), and their mean. */
  mse: number[];
  meanMse: number;
}

/**
 * Open-loop video prediction on one dataset episode: from the context frame, the model rolls out
 * the episode's actions; the video shows truth | prediction | error side by side, one frame per
 * step plus the context frame.
 */
export async function predictEpisode(opts: PredictOptions): Promise<PredictSummary> {
  const elapsed = stopwatch();
  const dataset = opts.dataset;
  const out = checkFileOutput(opts.out, { overwrite: opts.overwrite === true, cwd: opts.cwd });
  const k = checkInt(opts.episode, 'episode', 0);
  const context = checkInt(opts.context ?? 1, 'context', 1);
  const scale = checkInt(opts.scale ?? 4, 'scale', 1);
  if (scale > MAX_SCALE) throw new TrajforgeError('E_USAGE', `--scale must be at most ${MAX_SCALE}, got ${scale}`);
  const requestedHorizon = opts.horizon === undefined ? undefined : checkInt(opts.horizon, 'horizon', 1);

  const modelDir = resolveIn(opts.cwd, opts.model);
  const card = readModelCard(modelDir);
  const dir = resolveIn(opts.cwd, dataset);
  const count = readInfo(dir).total_episodes;
  if (k >= count) throw new TrajforgeError('E_USAGE', `--episode ${k} is out of range: ${dataset} has ${count} episode(s) (0..${count - 1})`);
  const { dataset: ds, meta, episodes } = await openModelDataset(dir);
  let episode: EpisodeData | undefined;
  try {
    const { note } = checkModelTarget(card, datasetTarget(meta, dataset));
    if (note) opts.onNotice?.(note, 'input');
    let i = 0;
    for await (const ep of episodes()) {
      if (i++ === k) {
        episode = ep;
        break;
      }
    }
  } finally {
    await ds.close();
  }
  if (!episode) throw new TrajforgeError('E_DATASET_INVALID', `${dataset}: episode ${k} could not be read`);
  const T = episode.length;
  const t0 = context - 1;
  if (t0 >= T) throw new TrajforgeError('E_USAGE', `--context ${context} leaves no step to predict: episode ${k} has ${T} steps`);
  const horizon = requestedHorizon ?? T - t0;
  if (t0 + horizon > T) throw new TrajforgeError('E_USAGE', `--horizon ${horizon} runs past the end of episode ${k} (${T} steps, context frame ${t0}: at most ${T - t0})`);

  const tr = transitionsFromEpisodes([episode], cardTransitionOptions(card));
  const W = card.decoded.width;
  const H = card.decoded.height;
  const P = W * H * 3;
  const A = card.action.names.length;
  if (tr.actions.cols !== A) throw new TrajforgeError('E_MODEL_SHAPE', `${dataset} has ${tr.actions.cols} action dims; the model takes ${A}`);
  const truth = (t: number) => frameRows(tr, [t]);

  opts.onProgress?.({ stage: 'predict', done: 0, total: 1, elapsed: elapsed() });
  const session = await WorldModelSession.load(card, readModelParts(modelDir, card), {}, modelDir);
  // preds[0] is the context frame itself, then the open-loop predictions.
  const preds: Float32Array[] = [Float32Array.from(truth(t0))];
  try {
    const window = await predictWindow(session, tr, 0, t0, horizon);
    for (let h = 0; h < horizon; h++) preds.push(window.subarray(h * P, (h + 1) * P));
  } finally {
    await session.release();
  }
  opts.onProgress?.({ stage: 'predict', done: 1, total: 1, elapsed: elapsed() });

  const mse: number[] = [];
  for (let h = 1; h <= horizon; h++) {
    const t = truth(t0 + h);
    const p = preds[h]!;
    let s = 0;
    for (let j = 0; j < P; j++) s += (t[j]! - p[j]!) ** 2;
    mse.push(s / P);
  }

  const size = predictFrameSize(W, H, scale);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}.mp4`;
  const enc = new VideoEncoder(tmp, { width: size.width, height: size.height, fps: meta.fps, codec: 'h264', gop: 10 });
  try {
    const frame = new Uint8Array(size.width * size.height * 3);
    const err = new Float32Array(P);
    for (let h = 0; h <= horizon; h++) {
      const t = truth(t0 + h);
      const p = preds[h]!;
      for (let j = 0; j < P; j++) err[j] = Math.min(1, ERROR_GAIN * Math.abs(t[j]! - p[j]!));
      frame.fill(255);
      [t, p, err].forEach((panel, n) => blitScaled(panel, W, H, scale, frame, size.width, n * (W * scale + PANEL_GAP)));
      await enc.write(frame);
      opts.onProgress?.({ stage: 'write', done: h + 1, total: horizon + 1, elapsed: elapsed() });
    }
    await enc.finish();
    renameSync(tmp, out);
  } catch (e) {
    enc.abort();
    removeOwn(tmp);
    throw e;
  }

  const meanMse = mse.reduce((a, b) => a + b, 0) / mse.length;
  return { file: out, modelId: card.id, episode: k, contextFrame: t0, horizon, width: size.width, height: size.height, errorGain: ERROR_GAIN, mse, meanMse };
}

/** Nearest-neighbour upscale of an HxWx3 [0,1] image into an rgb24 frame at column x0. */
function blitScaled(src: ArrayLike<number>, W: number, H: number, scale: number, dst: Uint8Array, dstWidth: number, x0: number): void {
  for (let y = 0; y < H * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < W * scale; x++) {
      const s = (sy * W + Math.floor(x / scale)) * 3;
      const d = (y * dstWidth + x0 + x) * 3;
      for (let c = 0; c < 3; c++) dst[d + c] = Math.round(255 * Math.min(1, Math.max(0, src[s + c]!)));
    }
  }
}
