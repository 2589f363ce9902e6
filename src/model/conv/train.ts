/**
 * Training of the convolutional world model: batches of short sequences sampled from the
 * training episodes, fed to the one-graph training step (train-graph.ts) in onnxruntime.
 *
 * Phases, each testable alone: `prepareConvData` (normalisation, working-size frames, sequence
 * windows), `sampleBatch` (a seeded batch for step s, a pure function of seed and s), the
 * `ConvTrainer` loop (learning-rate schedule, checkpoints, time budget) and export.ts.
 * Every batch is drawn from its own seed, so a run resumed from a checkpoint at step s continues
 * exactly as the uninterrupted run would have.
 */
import { TrajforgeError } from '../../core/errors.js';
import { deriveSeed, Rng } from '../../core/rng.js';
import { OnnxModel, onnxBackend, type InputTensor, type OnnxModelOptions, type OnnxOutput } from '../onnx/runtime.js';
import { columnRange, varyingColumns, type Transitions } from '../transitions.js';
import { initialParams, keypointLatentDims, paramSpecs, type ConvShape, type ParamSpec } from './network.js';
import { ADAM, adamGraph, DEFAULT_LOSS_WEIGHTS, trainGraph, type LossName, type LossWeights } from './train-graph.js';
import { resizeFrames, workingSize } from './resize.js';

export interface ConvOptions {
  latent: number;
  hidden: number;
  depth: number;
  /** Sequences per step. */
  batch: number;
  /** Open-loop steps per sequence (K). */
  rollout: number;
  /** Gradient steps. */
  steps: number;
  learningRate: number;
  /** Weight of the simulator-state auxiliary loss (0: none). */
  stateWeight: number;
  /** Weight of the inverse-dynamics loss: it is what teaches the encoder where small controlled objects are. */
  inverseWeight: number;
  /** Coordinate input channels (1) or not (0). */
  coords: number;
  /** Learned keypoints (spatial soft-argmax) at the end of z; 2 dims each. */
  keypoints: number;
  /** Frames the encoder sees (1: the frame; 2: the frame and the one before it). */
  context: number;
  /** Keypoint maps into the decoder (1) or not (0): see ConvShape.decoderMaps. */
  decoderMaps: number;
  /**
   * Probability that a training sequence's frames have their colour subsampled as 4:2:0 video
   * does (chroma averaged over 2x2 pixels): the model then labels H.264 / VP9 video, most video
   * users have, nearly as well as lossless frames (0: never). Default 0.5: PushCube's labels of
   * H.264 went from R² 0.35 / 0.51 to 0.78 / 0.76 and of VP9 from 0.75 / 0.77 to 0.88 / 0.85, its
   * lossless ones from 0.96 / 0.95 to 0.94 / 0.92; PushCube and Reach still meet every world-model
   * target (README, "Training for lossy video").
   */
  augmentChroma: number;
  seed: number;
}

/**
 * Batch 8 of 8-step rollouts rather than 16 of 4: about the same frames a step, and the dynamics
 * learn twice the horizon that eval and dream roll out (PushCube 38.6 -> 42.4 % below copy-last at
 * 10 steps, Reach 35.2 -> 38.7 %, StackCube 21.9 -> 23.6 %; README, world-model table).
 */
/** Latent dims the dense bottleneck gives beside the keypoints' (globalLatent): the default latent is these plus the keypoints'. */
export const DEFAULT_GLOBAL_LATENT = 32;
const DEFAULT_KEYPOINTS = 32;
const DEFAULT_CONTEXT = 2;
export const DEFAULT_CONV_OPTIONS: ConvOptions = { latent: DEFAULT_GLOBAL_LATENT + keypointLatentDims(DEFAULT_KEYPOINTS, DEFAULT_CONTEXT), hidden: 256, depth: 16, batch: 8, rollout: 8, steps: 2000, learningRate: 1e-3, stateWeight: 10, inverseWeight: DEFAULT_LOSS_WEIGHTS.inverse, coords: 1, keypoints: DEFAULT_KEYPOINTS, context: DEFAULT_CONTEXT, decoderMaps: 1, augmentChroma: 0.5, seed: 0 };

export interface ActionNormalisation {
  center: Float32Array;
  scale: Float32Array;
}

/** Everything training and export need besides the weights. */
export interface ConvModelFrame {
  shape: ConvShape;
  /** Camera (encoder input and decoded) size. */
  input: { width: number; height: number };
  action: ActionNormalisation;
  reward: { mean: number; std: number };
  /** State columns the auxiliary head predicts, standardised. */
  state: { columns: number[]; mean: Float32Array; std: Float32Array };
}

/** What only training needs. */
export interface ConvTrainingFrame extends ConvModelFrame {
  /** Per-pixel loss weights (h × w, mean 1): see pixelImportance. */
  pixelWeights: Float32Array;
}

export interface ConvModel extends ConvModelFrame {
  params: Map<string, Float32Array>;
}

export interface ConvData {
  frame: ConvTrainingFrame;
  /** Frames at the working size, uint8 HWC, one row per transitions frame row. */
  frames: Uint8Array;
  /** Sequence windows: [first frame row, first action row, the frame row before the first] of every K-step window of the training episodes (the first frame itself at an episode's start). */
  windows: Int32Array;
  rollout: number;
  t: Transitions;
}

/** Normalisation and the working-size frames; windows of `rollout` steps inside training episodes. */
export async function prepareConvData(t: Transitions, trainEpisodes: readonly number[], bounds: { low: Float32Array; high: Float32Array }, o: ConvOptions, onnx: OnnxModelOptions = {}): Promise<ConvData> {
  const A = t.actions.cols;
  const longest = Math.max(...trainEpisodes.map((e) => t.lengths[e]!));
  if (!(longest >= 1)) throw new TrajforgeError('E_MODEL_SHAPE', 'the training episodes have no steps');
  const K = Math.min(o.rollout, longest);
  const windows: number[] = [];
  for (const e of trainEpisodes) for (let s = 0; s + K <= t.lengths[e]!; s++) windows.push(t.frameStarts[e]! + s, t.actionStarts[e]! + s, t.frameStarts[e]! + Math.max(0, s - 1));

  const actionRows = trainEpisodes.flatMap((e) => Array.from({ length: t.lengths[e]! }, (_, i) => t.actionStarts[e]! + i));
  const action = actionNormalisation(t, actionRows, bounds);
  let mean = 0;
  for (const r of actionRows) mean += t.rewards[r]!;
  mean /= Math.max(1, actionRows.length);
  let v = 0;
  for (const r of actionRows) v += (t.rewards[r]! - mean) ** 2;
  const std = Math.sqrt(v / Math.max(1, actionRows.length));
  const frameRows = trainEpisodes.flatMap((e) => Array.from({ length: t.lengths[e]! + 1 }, (_, i) => t.frameStarts[e]! + i));
  const columns = o.stateWeight > 0 ? varyingColumns(t.states, frameRows) : [];
  const sMean = new Float32Array(columns.length);
  const sStd = new Float32Array(columns.length);
  columns.forEach((c, i) => {
    let m = 0;
    for (const r of frameRows) m += t.states.data[r * t.states.cols + c]!;
    m /= frameRows.length;
    let q = 0;
    for (const r of frameRows) q += (t.states.data[r * t.states.cols + c]! - m) ** 2;
    sMean[i] = m;
    sStd[i] = Math.max(Math.sqrt(q / frameRows.length), 1e-6);
  });

  const input = { width: t.source.width, height: t.source.height };
  const work = workingSize(input.width, input.height);
  const frames = work.width === input.width && work.height === input.height ? t.source.data : await resizeFrames(t.source.data, input, work, onnx);
  const shape: ConvShape = { width: work.width, height: work.height, depth: o.depth, latent: o.latent, hidden: o.hidden, actions: A, states: columns.length, coords: o.coords > 0, keypoints: o.keypoints, context: o.context, decoderMaps: o.decoderMaps > 0 };
  return {
    frame: { shape, input, action, reward: { mean, std: std > 1e-6 ? std : 1 }, state: { columns, mean: sMean, std: sStd }, pixelWeights: pixelImportance(frames, work, frameRows) },
    frames,
    windows: Int32Array.from(windows),
    rollout: K,
    t,
  };
}

/**
 * Per-pixel weights from how much each pixel varies over (a sample of) the training frames: the
 * standard deviation (over time, averaged over channels) plus a floor of a tenth of its mean,
 * scaled to mean 1. A static background keeps a small weight; pixels that objects cross get more.
 */
export function pixelImportance(frames: Uint8Array, size: { width: number; height: number }, rows: readonly number[]): Float32Array {
  const P = size.width * size.height;
  const stride = Math.max(1, Math.floor(rows.length / 2000));
  const sum = new Float64Array(P * 3);
  const sq = new Float64Array(P * 3);
  let n = 0;
  for (let i = 0; i < rows.length; i += stride) {
    const from = rows[i]! * P * 3;
    for (let p = 0; p < P * 3; p++) {
      const v = frames[from + p]! / 255;
      sum[p]! += v;
      sq[p]! += v * v;
    }
    n++;
  }
  const std = new Float64Array(P);
  for (let p = 0; p < P; p++) {
    let s = 0;
    for (let c = 0; c < 3; c++) s += Math.sqrt(Math.max(0, sq[p * 3 + c]! / n - (sum[p * 3 + c]! / n) ** 2));
    std[p] = s / 3;
  }
  const mean = std.reduce((a, b) => a + b, 0) / P;
  const floor = mean > 0 ? 0.1 * mean : 1;
  const w = Float32Array.from(std, (s) => s + floor);
  const scale = P / w.reduce((a, b) => a + b, 0);
  return w.map((v) => v * scale);
}

/** Actions to [-1, 1]: by the actuators' bounds where finite, else by the data's range. */
function actionNormalisation(t: Transitions, actionRows: readonly number[], bounds: { low: Float32Array; high: Float32Array }): ActionNormalisation {
  const A = t.actions.cols;
  const center = new Float32Array(A);
  const scale = new Float32Array(A);
  for (let j = 0; j < A; j++) {
    let lo = bounds.low[j]!;
    let hi = bounds.high[j]!;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) [lo, hi] = columnRange(t.actions.data, A, actionRows, j);
    center[j] = (lo + hi) / 2;
    scale[j] = (hi - lo) / 2;
  }
  return { center, scale };
}

export interface Batch {
  frames: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  dones: Float32Array;
  states: Float32Array;
}

/**
 * The batch of step `step`: B windows drawn from a seed of its own, frames as NCHW floats in [0, 1];
 * with `augmentChroma` > 0, that share of its sequences (drawn from a seed of their own) with
 * 4:2:0 colour (chromaSubsample).
 */
export function sampleBatch(d: ConvData, seed: number, step: number, batch: number, augmentChroma = 0): Batch {
  const { shape, action, reward, state } = d.frame;
  const K = d.rollout;
  const { width: W, height: H } = shape;
  const P = W * H;
  const A = shape.actions;
  const S = state.columns.length;
  const rng = new Rng(deriveSeed(seed, 'batch', step));
  const count = d.windows.length / 3;
  const C = shape.context;
  const out: Batch = {
    frames: new Float32Array(batch * (K + C) * 3 * P),
    actions: new Float32Array(batch * K * A),
    rewards: new Float32Array(batch * K),
    dones: new Float32Array(batch * K),
    states: new Float32Array(batch * (K + 1) * S),
  };
  const inv = 1 / 255;
  const t = d.t;
  /** HWC bytes of frame row `src` into NCHW floats at frame slot `slot`. */
  const put = (src: number, slot: number) => {
    const from = src * P * 3;
    const dst = slot * 3 * P;
    for (let p = 0; p < P; p++) {
      out.frames[dst + p] = d.frames[from + 3 * p]! * inv;
      out.frames[dst + P + p] = d.frames[from + 3 * p + 1]! * inv;
      out.frames[dst + 2 * P + p] = d.frames[from + 3 * p + 2]! * inv;
    }
  };
  for (let b = 0; b < batch; b++) {
    const w = rng.int(count);
    const frame0 = d.windows[3 * w]!;
    const action0 = d.windows[3 * w + 1]!;
    if (C === 2) put(d.windows[3 * w + 2]!, b * (K + 2));
    for (let k = 0; k <= K; k++) {
      const row = b * (K + 1) + k;
      put(frame0 + k, b * (K + C) + C - 1 + k);
      for (let i = 0; i < S; i++) out.states[row * S + i] = (t.states.data[(frame0 + k) * t.states.cols + state.columns[i]!]! - state.mean[i]!) / state.std[i]!;
    }
    for (let k = 0; k < K; k++) {
      const row = b * K + k;
      const a = action0 + k;
      for (let j = 0; j < A; j++) out.actions[row * A + j] = (t.actions.data[a * A + j]! - action.center[j]!) / action.scale[j]!;
      out.rewards[row] = (t.rewards[a]! - reward.mean) / reward.std;
      out.dones[row] = t.terminated[a]!;
    }
  }
  if (augmentChroma > 0) {
    const pick = new Rng(deriveSeed(seed, 'augment-chroma', step));
    for (let b = 0; b < batch; b++) {
      if (pick.next() >= augmentChroma) continue;
      for (let slot = b * (K + C); slot < (b + 1) * (K + C); slot++) chromaSubsample(out.frames, slot * 3 * P, W, H);
    }
  }
  return out;
}

/** Weights plus Adam moments at a step: everything a resumed run needs. */
export interface TrainState {
  step: number;
  params: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export interface StepReport {
  step: number;
  steps: number;
  losses: Partial<Record<LossName, number>>;
  gradNorm: number;
}

export interface TrainHooks {
  /** After every step. */
  onStep?: (r: StepReport) => void;
  /** Every `checkpointEvery` steps and at the end: persist the state (resume starts from it). */
  onCheckpoint?: (s: TrainState) => void;
  checkpointEvery?: number;
  /** Stops after the step during which this returns true (a time budget). */
  shouldStop?: () => boolean;
}

export function initialState(shape: ConvShape, seed: number): TrainState {
  const params = initialParams(shape, deriveSeed(seed, 'weights'));
  const zeros = () => new Map([...params].map(([k, p]) => [k, new Float32Array(p.length)]));
  return { step: 0, params, m: zeros(), v: zeros() };
}

/** Learning rate at step s (1-based): linear warm-up over 100 steps, cosine decay to 10 % at the last step. */
export function learningRate(o: Pick<ConvOptions, 'learningRate' | 'steps'>, s: number): number {
  const warm = Math.min(1, s / 100);
  const progress = Math.min(1, s / o.steps);
  return o.learningRate * warm * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * Shards of a batch trained in parallel: on the CPU of the native runtime with `threads` >= 2,
 * the largest count up to `threads` that divides the batch (each shard a one-thread session;
 * parallel/gradient-shards.ts says why). One session runs the whole step otherwise (one thread, WebAssembly, a GPU
 * provider). Like the thread count, the shard count changes the order of sums: a run is
 * reproducible for a given `--threads`.
 */
export async function shardCount(batch: number, onnx: OnnxModelOptions): Promise<number> {
  const threads = onnx.threads ?? 1;
  const cpuOnly = (onnx.providers ?? ['cpu']).every((p) => p === 'cpu');
  if (threads < 2 || !cpuOnly || (await onnxBackend(onnx.backend)) !== 'native') return 1;
  for (let n = Math.min(threads, batch); n >= 2; n--) if (batch % n === 0) return n;
  return 1;
}

/**
 * Runs a gradient graph on `count` shards at once (shard i on feeds[i]), outputs in shard order;
 * a lost worker rejects with E_WORKER_FAILED. parallel/gradient-shards.ts implements it with
 * worker threads; the model code does no I/O and takes it from its caller.
 */
export interface GradientShardRunner {
  run(feeds: readonly Record<string, InputTensor>[], fetch: string[]): Promise<Record<string, OnnxOutput>[]>;
  close(): Promise<void>;
}
export type ShardStarter = (bytes: Uint8Array, count: number, onnx: OnnxModelOptions) => Promise<GradientShardRunner>;

/** One training step's engine: feeds a batch and the state, returns the step's outputs (see trainGraph). */
export interface StepEngine {
  /** The losses each step reports (`loss.<name>` outputs). */
  losses: LossName[];
  run(b: Batch, state: TrainState, lr: number): Promise<Record<string, OnnxOutput>>;
  close(): Promise<void>;
}

/**
 * One NCHW frame at `offset` (rgb planes in [0, 1]) as 4:2:0 video carries it: BT.601 luma per
 * pixel, chroma averaged over each 2x2 block (a partial block at an odd edge over its pixels).
 */
export function chromaSubsample(frames: Float32Array, offset: number, W: number, H: number): void {
  const P = W * H;
  const r = offset;
  const g = offset + P;
  const bl = offset + 2 * P;
  const block = new Int32Array(4);
  const luma = new Float64Array(4);
  for (let y0 = 0; y0 < H; y0 += 2) {
    for (let x0 = 0; x0 < W; x0 += 2) {
      let n = 0;
      let cb = 0;
      let cr = 0;
      for (let y = y0; y < Math.min(H, y0 + 2); y++) {
        for (let x = x0; x < Math.min(W, x0 + 2); x++, n++) {
          const p = y * W + x;
          const Y = 0.299 * frames[r + p]! + 0.587 * frames[g + p]! + 0.114 * frames[bl + p]!;
          block[n] = p;
          luma[n] = Y;
          cb += (frames[bl + p]! - Y) / 1.772;
          cr += (frames[r + p]! - Y) / 1.402;
        }
      }
      cb /= n;
      cr /= n;
      for (let k = 0; k < n; k++) {
        const p = block[k]!;
        const Y = luma[k]!;
        frames[r + p] = Math.min(1, Math.max(0, Y + 1.402 * cr));
        frames[g + p] = Math.min(1, Math.max(0, Y - (0.114 * 1.772 * cb + 0.299 * 1.402 * cr) / 0.587));
        frames[bl + p] = Math.min(1, Math.max(0, Y + 1.772 * cb));
      }
    }
  }
}

/** What a training graph is built from besides the options. */
export interface StepFrame {
  shape: ConvShape;
  rollout: number;
  pixelWeights?: Float32Array;
}

/** The batch's inputs to a training graph, sequences [from, to) of it. */
function batchFeeds(f: StepFrame, b: Batch, batch: number, from: number, to: number): Record<string, InputTensor> {
  const { shape } = f;
  const K = f.rollout;
  const n = to - from;
  /** The rows of sequences [from, to): `perSequence` rows of `width` values each (the array itself for the whole batch). */
  const rows = (data: Float32Array, perSequence: number, width: number, dims: number[]): InputTensor => ({
    data: n === batch ? data : data.slice(from * perSequence * width, to * perSequence * width),
    dims: [n * perSequence, ...dims],
  });
  const feeds: Record<string, InputTensor> = {
    frames: rows(b.frames, K + shape.context, 3 * shape.height * shape.width, [3, shape.height, shape.width]),
    rewards: rows(b.rewards, K, 1, [1]),
    dones: rows(b.dones, K, 1, [1]),
  };
  if (shape.actions > 0) feeds.actions = rows(b.actions, K, shape.actions, [shape.actions]);
  if (shape.states > 0) feeds.states = rows(b.states, K + 1, shape.states, [shape.states]);
  return feeds;
}

function stateFeeds(specs: readonly ParamSpec[], state: TrainState, feeds: Record<string, InputTensor>, moments: boolean): Record<string, InputTensor> {
  for (const p of specs) {
    feeds[p.name] = { data: state.params.get(p.name)!, dims: p.dims };
    if (!moments) continue;
    feeds[`${p.name}.m`] = { data: state.m.get(p.name)!, dims: p.dims };
    feeds[`${p.name}.v`] = { data: state.v.get(p.name)!, dims: p.dims };
  }
  return feeds;
}

/** The outputs of an Adam step (the one-graph step's and adamGraph's alike). */
function adamOutputs(specs: readonly ParamSpec[]): string[] {
  return [...specs.flatMap((p) => [`${p.name}.next`, `${p.name}.m.next`, `${p.name}.v.next`]), 'grad_norm'];
}

/** The whole step (forward, backward, Adam) as one graph in one session. */
async function wholeStep(f: StepFrame, o: Pick<ConvOptions, 'batch'>, weights: LossWeights, onnx: OnnxModelOptions): Promise<StepEngine> {
  const graph = trainGraph(f.shape, o.batch, f.rollout, weights, f.pixelWeights);
  const session = await OnnxModel.load(graph.bytes, onnx);
  const specs = paramSpecs(f.shape);
  const fetch = [...adamOutputs(specs), ...graph.losses.map((l) => `loss.${l}`)];
  return {
    losses: graph.losses,
    run: (b, state, lr) => session.run(stateFeeds(specs, state, { ...batchFeeds(f, b, o.batch, 0, o.batch), lr: { data: Float32Array.of(lr), dims: [] } }, true), fetch),
    close: () => session.release(),
  };
}

/** The step over `count` shards (parallel/gradient-shards.ts): their gradients in worker threads, then one Adam graph. */
async function shardedStep(f: StepFrame, o: Pick<ConvOptions, 'batch'>, weights: LossWeights, onnx: OnnxModelOptions, count: number, start: ShardStarter, onNotice?: (line: string) => void): Promise<StepEngine> {
  const { shape } = f;
  const per = o.batch / count;
  const graph = trainGraph(shape, per, f.rollout, weights, f.pixelWeights, 'gradients');
  const specs = paramSpecs(shape);
  let shards = await start(graph.bytes, count, onnx);
  let adam: OnnxModel;
  try {
    adam = await OnnxModel.load(adamGraph(shape, count), onnx);
  } catch (e) {
    await shards.close();
    throw e;
  }
  const gradFetch = [...specs.map((p) => `grad.${p.name}`), ...graph.losses.map((l) => `loss.${l}`)];
  const adamFetch = adamOutputs(specs);
  return {
    losses: graph.losses,
    async run(b, state, lr) {
      const jobs = Array.from({ length: count }, (_, i) => stateFeeds(specs, state, batchFeeds(f, b, o.batch, i * per, (i + 1) * per), false));
      let parts: Record<string, OnnxOutput>[];
      try {
        parts = await shards.run(jobs, gradFetch);
      } catch (e) {
        if (!(e instanceof TrajforgeError && e.code === 'E_WORKER_FAILED')) throw e;
        // A lost worker: the same step again on fresh workers (a shard's gradients are a pure
        // function of its feeds, so the run's result does not change); a second loss ends training.
        onNotice?.(`${(e as Error).message}; running the step again on new workers`);
        await shards.close();
        shards = await start(graph.bytes, count, onnx);
        parts = await shards.run(jobs, gradFetch);
      }
      const feeds = stateFeeds(specs, state, { lr: { data: Float32Array.of(lr), dims: [] } }, true);
      parts.forEach((part, i) => {
        for (const p of specs) feeds[`grad.${p.name}.${i}`] = { data: part[`grad.${p.name}`]!.data as Float32Array, dims: p.dims };
      });
      const out = await adam.run(feeds, adamFetch);
      // Each shard's losses are means over its sequences: their mean is the batch's.
      for (const l of graph.losses) out[`loss.${l}`] = { data: Float32Array.of(parts.reduce((sum, part) => sum + part[`loss.${l}`]!.data[0]!, 0) / count), dims: [] };
      return out;
    },
    async close() {
      await Promise.all([shards.close(), adam.release()]);
    },
  };
}

/** How runTraining may run shards: the starter, and a fixed count (default: shardCount's). */
export interface Sharding {
  start: ShardStarter;
  count?: number;
  /** A user notice (a lost training worker replaced). */
  onNotice?: (line: string) => void;
}

/** The training step for batches of `batch` sequences: sharded where `sharding` is given and shardCount (or its count) says so, one graph otherwise. */
export async function stepEngine(f: StepFrame, batch: number, weights: LossWeights, onnx: OnnxModelOptions, sharding?: Sharding): Promise<StepEngine> {
  const count = sharding === undefined ? 1 : (sharding.count ?? (await shardCount(batch, onnx)));
  if (!(Number.isSafeInteger(count) && count >= 1 && batch % count === 0)) throw new TrajforgeError('E_INTERNAL', `training: ${count} shards do not divide a batch of ${batch}`);
  return count > 1 ? shardedStep(f, { batch }, weights, onnx, count, sharding!.start, sharding!.onNotice) : wholeStep(f, { batch }, weights, onnx);
}

/** Runs steps from `state.step` to `o.steps` (or until stopped); returns the state reached and the per-step log. */
export async function runTraining(d: ConvData, o: ConvOptions, state: TrainState, hooks: TrainHooks = {}, onnx: OnnxModelOptions = {}, lossWeights: Partial<LossWeights> = {}, sharding?: Sharding): Promise<{ state: TrainState; stopped: boolean }> {
  const engine = await stepEngine({ shape: d.frame.shape, rollout: d.rollout, pixelWeights: d.frame.pixelWeights }, o.batch, { ...DEFAULT_LOSS_WEIGHTS, state: o.stateWeight, inverse: o.inverseWeight, ...lossWeights }, onnx, sharding);
  const specs = paramSpecs(d.frame.shape);
  let stopped = false;
  try {
    while (state.step < o.steps) {
      const s = state.step + 1;
      const b = sampleBatch(d, o.seed, s, o.batch, o.augmentChroma);
      const out = await engine.run(b, state, (learningRate(o, s) * Math.sqrt(1 - ADAM.beta2 ** s)) / (1 - ADAM.beta1 ** s));
      const reported: Partial<Record<LossName, number>> = {};
      for (const l of engine.losses) reported[l] = out[`loss.${l}`]!.data[0]!;
      if (!Number.isFinite(reported.total!)) {
        throw new TrajforgeError('E_MODEL_SHAPE', `training diverged at step ${s} (loss ${reported.total}); lower --lr or change --seed`);
      }
      for (const p of specs) {
        state.params.set(p.name, out[`${p.name}.next`]!.data as Float32Array);
        state.m.set(p.name, out[`${p.name}.m.next`]!.data as Float32Array);
        state.v.set(p.name, out[`${p.name}.v.next`]!.data as Float32Array);
      }
      state.step = s;
      hooks.onStep?.({ step: s, steps: o.steps, losses: reported, gradNorm: out.grad_norm!.data[0]! });
      const every = hooks.checkpointEvery ?? 0;
      if (every > 0 && s % every === 0 && s < o.steps) hooks.onCheckpoint?.(state);
      if (s < o.steps && hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
    }
  } finally {
    await engine.close();
  }
  return { state, stopped };
}
