/**
 * Episodes -> the matrices world models train on: one row per frame (T + 1 per episode, the reset
 * frame through the final observation), the true simulator state per frame, the action per step.
 * Pure data shaping, no I/O, so it runs on episodes just simulated or read back from a dataset.
 */
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { oneHotActions } from './card.js';
import { matrix, type Matrix } from './linalg.js';

export interface Transitions {
  /** rgb in [0,1], H*W*3 per row (HWC order), after optional box downsampling: what decoders predict and metrics compare. */
  readonly frames: Matrix;
  /** The same frames at the camera's resolution (rgb bytes, row-aligned with frames): what encoders see. */
  readonly source: SourceFrames;
  /** observation.state per frame (row-aligned with frames). */
  readonly states: Matrix;
  /** One action per step; episode e's step t is row actionStarts[e] + t. */
  readonly actions: Matrix;
  /** Reward and terminated flag (0/1) of each step, indexed like actions. */
  readonly rewards: Float64Array;
  readonly terminated: Float64Array;
  readonly frameStarts: readonly number[];
  readonly actionStarts: readonly number[];
  readonly lengths: readonly number[];
  readonly width: number;
  readonly height: number;
}

export interface SourceFrames {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface TransitionOptions {
  camera: string;
  /** Integer box-filter factor applied to frames (2: 64x64 -> 32x32). */
  downsample?: number;
  /** A discrete action set's size: each step's choice index becomes a one-hot row of this many values. */
  choices?: number;
}

/** Box-filters an HxWx3 uint8 frame by an integer factor into dst (floats in [0,1]); training, eval and dreaming share it. */
export function downsampleInto(src: Uint8Array, width: number, height: number, factor: number, dst: Float32Array | Float64Array, offset: number): void {
  boxFilterInto(src, 0, width, height, factor, 1 / 255, dst, offset);
}

/** dst[offset..] = box filter of the HxWx3 frame at src[from..] by `factor`, times `scale`. */
function boxFilterInto(src: ArrayLike<number>, from: number, width: number, height: number, factor: number, scale: number, dst: Float32Array | Float64Array, offset: number): void {
  const w = width / factor;
  const h = height / factor;
  const k = scale / (factor * factor);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < factor; dy++) {
          for (let dx = 0; dx < factor; dx++) s += src[from + ((y * factor + dy) * width + x * factor + dx) * 3 + c]!;
        }
        dst[offset + (y * w + x) * 3 + c] = s * k;
      }
    }
  }
}

/** The parts of an episode a world model learns from. */
export type TrainingEpisode = Pick<EpisodeData, 'episode' | 'length' | 'obsDim' | 'actionDim' | 'discrete' | 'obs' | 'actions' | 'rewards' | 'terminated' | 'frames' | 'finalObs' | 'finalFrames'>;

export function transitionsFromEpisodes(episodes: readonly TrainingEpisode[], options: TransitionOptions): Transitions {
  const factor = options.downsample ?? 1;
  if (episodes.length === 0) throw new TrajforgeError('E_MODEL_SHAPE', 'no episodes to train on');
  const first = episodes[0]!;
  // A discrete set's choice indices become one-hot rows (card.ts modelActions).
  const choices = first.discrete ? options.choices : undefined;
  if (first.discrete && !(choices && choices >= 2)) throw new TrajforgeError('E_INTERNAL', 'transitions of a discrete action set need the number of choices');
  const actionCols = choices ?? first.actionDim;
  const rgbOf = (ep: TrainingEpisode, final: boolean) => {
    const found = (final ? ep.finalFrames : ep.frames).find((f) => f.camera === options.camera && f.channel === 'rgb');
    if (!found) throw new TrajforgeError('E_MODEL_SHAPE', `episode ${ep.episode} has no rgb frames for camera "${options.camera}"`);
    return found;
  };
  const { width: fullW, height: fullH } = rgbOf(first, false);
  if (!Number.isInteger(factor) || factor < 1 || fullW % factor !== 0 || fullH % factor !== 0) {
    throw new TrajforgeError('E_MODEL_SHAPE', `downsample ${factor} must be a positive integer dividing ${fullW}x${fullH}`);
  }
  const width = fullW / factor;
  const height = fullH / factor;
  const pixels = width * height * 3;
  const totalFrames = episodes.reduce((s, e) => s + e.length + 1, 0);
  const totalSteps = episodes.reduce((s, e) => s + e.length, 0);
  const framePixels = fullW * fullH * 3;
  const source = new Uint8Array(totalFrames * framePixels);
  const states = matrix(totalFrames, first.obsDim);
  const actions = matrix(totalSteps, actionCols);
  const rewards = new Float64Array(totalSteps);
  const terminated = new Float64Array(totalSteps);
  const frameStarts: number[] = [];
  const actionStarts: number[] = [];
  let row = 0;
  let step = 0;
  for (const ep of episodes) {
    if (ep.obsDim !== first.obsDim || ep.actionDim !== first.actionDim) {
      throw new TrajforgeError('E_MODEL_SHAPE', `episode ${ep.episode}: state/action sizes differ from episode ${first.episode}`);
    }
    frameStarts.push(row);
    actionStarts.push(step);
    const rgb = rgbOf(ep, false);
    const final = rgbOf(ep, true);
    for (let t = 0; t <= ep.length; t++) {
      const src = t < ep.length ? (rgb.data as Uint8Array).subarray(t * framePixels, (t + 1) * framePixels) : (final.data as Uint8Array);
      source.set(src, (row + t) * framePixels);
    }
    states.data.set(ep.obs, row * first.obsDim);
    states.data.set(ep.finalObs, (row + ep.length) * first.obsDim);
    actions.data.set(choices ? oneHotActions(ep.actions, choices, `episode ${ep.episode}`) : ep.actions, step * actionCols);
    rewards.set(ep.rewards, step);
    terminated.set(ep.terminated, step);
    row += ep.length + 1;
    step += ep.length;
  }
  // Float frames at the model's size are built on first use: models that read camera bytes
  // (the convolutional one) never pay for them, 8 bytes a value at full resolution.
  let frames: Matrix | undefined;
  return {
    get frames(): Matrix {
      if (!frames) {
        frames = matrix(totalFrames, pixels);
        for (let r = 0; r < totalFrames; r++) downsampleInto(source.subarray(r * framePixels, (r + 1) * framePixels), fullW, fullH, factor, frames.data, r * pixels);
      }
      return frames;
    },
    source: { data: source, width: fullW, height: fullH },
    states,
    actions,
    rewards,
    terminated,
    frameStarts,
    actionStarts,
    lengths: episodes.map((e) => e.length),
    width,
    height,
  };
}

/** Frame rows at the model's size (what decoders predict), as float32, without building Transitions.frames. */
export function frameRows(t: Transitions, rows: readonly number[]): Float32Array {
  const factor = t.source.width / t.width;
  const P = t.source.width * t.source.height * 3;
  const D = t.width * t.height * 3;
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, i) => downsampleInto(t.source.data.subarray(r * P, (r + 1) * P), t.source.width, t.source.height, factor, out, i * D));
  return out;
}

/** rgb bytes -> [0,1] floats at dst[offset..]: how camera frames become encoder input. */
export function unitInto(src: Uint8Array, dst: Float32Array, offset: number): void {
  const inv = 1 / 255;
  for (let p = 0; p < src.length; p++) dst[offset + p] = src[p]! * inv;
}

/** rgb bytes as the encoder's [0, 1] input, exactly as training and the CLI convert them. */
export function unitFrames(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  unitInto(bytes, out, 0);
  return out;
}

/** Encoder input for the given frame rows: camera-resolution rgb in [0,1] (H·W·3 per row). */
export function encoderInput(t: Transitions, rows: readonly number[]): Float32Array {
  const P = t.source.width * t.source.height * 3;
  const out = new Float32Array(rows.length * P);
  rows.forEach((r, i) => unitInto(t.source.data.subarray(r * P, (r + 1) * P), out, i * P));
  return out;
}

/** Each row's predecessor frame row: the row before it, or itself at an episode's first frame (the encoder's `previous` input). */
export function predecessorRows(t: Transitions, rows: readonly number[]): number[] {
  const starts = new Set(t.frameStarts);
  return rows.map((r) => (starts.has(r) ? r : r - 1));
}

/** Box-filters n float frames (H·W·3 rows) by an integer factor: the encoders' first step (the ONNX graphs pool the same way). */
export function poolFrames(frames: Float32Array, n: number, width: number, height: number, factor: number): Float32Array {
  if (factor === 1) return frames;
  const out = new Float32Array((n * width * height * 3) / (factor * factor));
  for (let f = 0; f < n; f++) boxFilterInto(frames, f * width * height * 3, width, height, factor, 1, out, (f * width * height * 3) / (factor * factor));
  return out;
}

/** Rows of a row-major array with `cols` columns, gathered into a float32 batch. */
export function gatherRows(src: ArrayLike<number>, cols: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * cols);
  for (let i = 0; i < rows.length; i++) {
    const from = rows[i]! * cols;
    for (let j = 0; j < cols; j++) out[i * cols + j] = src[from + j]!;
  }
  return out;
}

/**
 * The range column `column` spans over `rows` of a row-major array with `cols` columns; a single
 * value v gives [v − 1, v + 1] and no rows [−1, 1], so the range always scales (actions without
 * finite bounds are normalised by it).
 */
export function columnRange(values: ArrayLike<number>, cols: number, rows: ArrayLike<number>, column: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < rows.length; i++) {
    const v = values[rows[i]! * cols + column]!;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi > lo) return [lo, hi];
  return Number.isFinite(lo) ? [lo - 1, lo + 1] : [-1, 1];
}

/** State columns whose value changes over the given frame rows (range above 1e-6). */
export function varyingColumns(states: Matrix, rows: readonly number[]): number[] {
  const out: number[] = [];
  for (let c = 0; c < states.cols; c++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) {
      const v = states.data[r * states.cols + c]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo > 1e-6) out.push(c);
  }
  return out;
}

/** Rows of m selected by index, as a new matrix. */
export function pickRows(m: Matrix, rows: readonly number[]): Matrix {
  const out = matrix(rows.length, m.cols);
  rows.forEach((r, i) => out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols));
  return out;
}

/** Frame rows of the given episodes, and (frame t, action t, frame t+1) row triples. */
export function episodeRows(t: Transitions, episodes: readonly number[]): { frames: number[]; current: number[]; actions: number[]; next: number[] } {
  const frames: number[] = [];
  const current: number[] = [];
  const actions: number[] = [];
  const next: number[] = [];
  for (const e of episodes) {
    const f0 = t.frameStarts[e]!;
    const a0 = t.actionStarts[e]!;
    const len = t.lengths[e]!;
    for (let i = 0; i <= len; i++) frames.push(f0 + i);
    for (let i = 0; i < len; i++) {
      current.push(f0 + i);
      actions.push(a0 + i);
      next.push(f0 + i + 1);
    }
  }
  return { frames, current, actions, next };
}
