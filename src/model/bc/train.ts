/**
 * Behaviour cloning: an MLP from an observation (or any float feature) to the action, trained by
 * the one-graph training step of graph.ts in onnxruntime, exported as an ONNX policy, and scored
 * by running that exported graph. Every batch is drawn from a seed of its own and onnxruntime runs
 * on one thread, so a seed gives the same weights, the same bytes, every time.
 */
import { TrajforgeError } from '../../core/errors.js';
import { deriveSeed, Rng } from '../../core/rng.js';
import { createMlp } from '../nn.js';
import { OnnxModel } from '../onnx/runtime.js';
import { bcParams, bcPolicyGraph, bcTrainGraph, type BcNormalisation, type BcShape } from './graph.js';
import { columnRange } from '../transitions.js';

export interface BcOptions {
  /** Width of each hidden layer. */
  hidden: number;
  /** Hidden layers. */
  layers: number;
  /** Gradient steps. */
  steps: number;
  /** Rows per step. */
  batch: number;
  /** Adam's peak learning rate (warm-up over 100 steps, cosine decay to 10 %). */
  learningRate: number;
  seed: number;
  activation: 'relu' | 'tanh';
}

export const DEFAULT_BC_OPTIONS: BcOptions = { hidden: 256, layers: 2, steps: 2000, batch: 256, learningRate: 1e-3, seed: 0, activation: 'relu' };

/** Gradient clipping by global norm keeps an early spike (large unnormalised inputs) from wrecking Adam's moments. */
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 10 };

/** Rows of (input, action) pairs: x rows × D, y rows × A, both row-major in their own units. */
export interface BcData {
  x: Float32Array;
  y: Float32Array;
  inputs: number;
  actions: number;
}

/**
 * Standardisation of the inputs over `rows` (a constant column keeps scale 1) and the action
 * rescaling from the box: [low, high] -> [-1, 1].
 */
export function bcNormalisation(d: BcData, rows: ArrayLike<number>, box: { low: ArrayLike<number>; high: ArrayLike<number> }): BcNormalisation {
  const D = d.inputs;
  const A = d.actions;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  for (let i = 0; i < rows.length; i++) {
    const o = rows[i]! * D;
    for (let j = 0; j < D; j++) mean[j]! += d.x[o + j]!;
  }
  for (let j = 0; j < D; j++) mean[j]! /= Math.max(1, rows.length);
  for (let i = 0; i < rows.length; i++) {
    const o = rows[i]! * D;
    for (let j = 0; j < D; j++) sq[j]! += (d.x[o + j]! - mean[j]!) ** 2;
  }
  const std = Float32Array.from(sq, (s) => {
    const v = Math.sqrt(s / Math.max(1, rows.length));
    return v > 1e-6 ? v : 1;
  });
  const low = Float32Array.from({ length: A }, (_, k) => box.low[k]!);
  const high = Float32Array.from({ length: A }, (_, k) => box.high[k]!);
  // An action without finite bounds (another tool's dataset declares none) is scaled and
  // clipped by the range the training rows span, as the world model's actions are.
  for (let k = 0; k < A; k++) {
    if (!Number.isFinite(low[k]!) || !Number.isFinite(high[k]!)) [low[k], high[k]] = columnRange(d.y, A, rows, k);
  }
  return {
    mean: Float32Array.from(mean),
    std,
    center: Float32Array.from({ length: A }, (_, k) => (low[k]! + high[k]!) / 2),
    scale: Float32Array.from({ length: A }, (_, k) => (high[k]! > low[k]! ? (high[k]! - low[k]!) / 2 : 1)),
    low,
    high,
  };
}

export interface BcStepReport {
  step: number;
  steps: number;
  loss: number;
}

export interface BcTrained {
  shape: BcShape;
  params: Map<string, Float32Array>;
  /** The exported policy graph (the ONNX policy convention). */
  bytes: Uint8Array;
  /** Mean training loss (normalised units) of every 50 steps, in order. */
  losses: number[];
}

/** Learning rate at step s (1-based): linear warm-up over 100 steps, cosine decay to 10 % at the last step. */
function learningRate(o: BcOptions, s: number): number {
  const warm = Math.min(1, s / Math.min(100, o.steps));
  const progress = Math.min(1, s / o.steps);
  return o.learningRate * warm * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * Trains on `trainRows` of the data and exports the policy graph with input `inputName`.
 * `onStep` runs after every step (progress, a lock's heartbeat).
 */
export async function trainBc(d: BcData, trainRows: Int32Array, norm: BcNormalisation, o: BcOptions, inputName: 'observation' | 'latent', onStep?: (r: BcStepReport) => void): Promise<BcTrained> {
  if (trainRows.length === 0) throw new TrajforgeError('E_DATASET_INVALID', 'behaviour cloning needs at least one training step (row)');
  const shape: BcShape = { inputs: d.inputs, hidden: Array.from({ length: o.layers }, () => o.hidden), outputs: d.actions, activation: o.activation };
  const specs = bcParams(shape);
  const initial = createMlp([shape.inputs, ...shape.hidden, shape.outputs], o.activation, 'linear', new Rng(deriveSeed(o.seed, 'weights')));
  const params = new Map<string, Float32Array>();
  initial.forEach((l, k) => {
    params.set(`l${k}.weight`, l.weights);
    params.set(`l${k}.bias`, l.bias);
  });
  const m = new Map<string, Float32Array>(specs.map((p) => [p.name, new Float32Array(p.dims.reduce((a, b) => a * b, 1))]));
  const v = new Map<string, Float32Array>(specs.map((p) => [p.name, new Float32Array(p.dims.reduce((a, b) => a * b, 1))]));
  const session = await OnnxModel.load(bcTrainGraph(shape, o.batch, ADAM), { threads: 1 });
  const fetch = [...specs.flatMap((p) => [`${p.name}.next`, `${p.name}.m.next`, `${p.name}.v.next`]), 'loss'];
  const D = d.inputs;
  const A = d.actions;
  const xb = new Float32Array(o.batch * D);
  const yb = new Float32Array(o.batch * A);
  const invStd = norm.std.map((s) => 1 / s);
  const invScale = norm.scale.map((s) => 1 / s);
  const losses: number[] = [];
  let sum = 0;
  let count = 0;
  try {
    for (let s = 1; s <= o.steps; s++) {
      const rng = new Rng(deriveSeed(o.seed, 'batch', s));
      for (let b = 0; b < o.batch; b++) {
        const r = trainRows[rng.int(trainRows.length)]!;
        for (let j = 0; j < D; j++) xb[b * D + j] = (d.x[r * D + j]! - norm.mean[j]!) * invStd[j]!;
        for (let k = 0; k < A; k++) yb[b * A + k] = (d.y[r * A + k]! - norm.center[k]!) * invScale[k]!;
      }
      const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
        x: { data: xb, dims: [o.batch, D] },
        y: { data: yb, dims: [o.batch, A] },
        lr: { data: Float32Array.of((learningRate(o, s) * Math.sqrt(1 - ADAM.beta2 ** s)) / (1 - ADAM.beta1 ** s)), dims: [] },
      };
      for (const p of specs) {
        feeds[p.name] = { data: params.get(p.name)!, dims: p.dims };
        feeds[`${p.name}.m`] = { data: m.get(p.name)!, dims: p.dims };
        feeds[`${p.name}.v`] = { data: v.get(p.name)!, dims: p.dims };
      }
      const out = await session.run(feeds, fetch);
      const loss = out.loss!.data[0]!;
      if (!Number.isFinite(loss)) throw new TrajforgeError('E_MODEL_SHAPE', `behaviour cloning diverged at step ${s} (loss ${loss}); lower --lr or change --seed`);
      for (const p of specs) {
        params.set(p.name, out[`${p.name}.next`]!.data as Float32Array);
        m.set(p.name, out[`${p.name}.m.next`]!.data as Float32Array);
        v.set(p.name, out[`${p.name}.v.next`]!.data as Float32Array);
      }
      sum += loss;
      count++;
      if (count === 50 || s === o.steps) {
        losses.push(sum / count);
        sum = 0;
        count = 0;
      }
      onStep?.({ step: s, steps: o.steps, loss });
    }
  } finally {
    await session.release();
  }
  return { shape, params, bytes: bcPolicyGraph(shape, params, norm, inputName), losses };
}

/** The actions a policy graph gives for every row of x (D wide), in chunks, through onnxruntime. */
export async function runPolicyGraph(bytes: Uint8Array, inputName: string, x: Float32Array, inputs: number, actions: number): Promise<Float32Array> {
  const model = await OnnxModel.load(bytes, { threads: 1 });
  const rows = x.length / inputs;
  const out = new Float32Array(rows * actions);
  const CHUNK = 4096;
  try {
    for (let r = 0; r < rows; r += CHUNK) {
      const n = Math.min(CHUNK, rows - r);
      const y = await model.run({ [inputName]: { data: x.subarray(r * inputs, (r + n) * inputs), dims: [n, inputs] } }, ['action']);
      out.set(y.action!.data as Float32Array, r * actions);
    }
  } finally {
    await model.release();
  }
  return out;
}
