/**
 * What `trajforge eval` measures, on held-out episodes, for any latent world model behind the
 * same four-part interface (the ONNX model and the PCA baseline alike):
 *  - open-loop prediction: per-step pixel MSE / PSNR / SSIM from one context frame, with the
 *    true actions and with actions shuffled across episodes (ΔPSNR, Genie's controllability);
 *  - latent error: predicted latent vs encode(true frame), normalised by the latent's variance;
 *  - reward and done heads; inverse dynamics R²;
 *  - representation: linear-probe R² to positions and joint angles, mutual k-NN alignment and CKA with the
 *    true simulator state.
 * Predictions are decoded in residual form: x_ctx + D(ẑ_{t+h}) - D(z_ctx), clipped to [0, 1]:
 * the decoder supplies what moves, the context frame the static detail it cannot afford to carry.
 */
import { TrajforgeError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { columnStats, matrix, type Matrix } from './linalg.js';
import { choiceAccuracy } from './label-metrics.js';
import { linearCka, linearCkaUnbiased, linearProbeR2Columns, mutualKnnAlignment, psnr, r2Average, r2Columns, r2Score, ssim } from './metrics.js';
import { encoderInput, frameRows, gatherRows, predecessorRows, type Transitions } from './transitions.js';

/** The four parts of a latent world model, batch-wise on flat row-major arrays. */
export interface LatentWorldModel {
  readonly latent: number;
  /** Frames per encoder input (absent: 1): 2 when the encoder also takes each frame's predecessor. */
  readonly context?: number;
  /** frames: camera-resolution encoder inputs (Transitions.source), with their predecessors when context is 2; decode returns Transitions.frames' size. */
  encode(frames: Float32Array, n: number, previous?: Float32Array): Promise<Float32Array>;
  /** Consecutive frames of sequences of the given lengths, back to back (optional: encode with each frame's predecessor does the same, at more cost). */
  encodeSequences?(frames: Float32Array, lengths: readonly number[]): Promise<Float32Array>;
  decode(z: Float32Array, n: number): Promise<Float32Array>;
  step(z: Float32Array, actions: Float32Array, n: number): Promise<{ next: Float32Array; reward?: Float32Array; done?: Float32Array }>;
  inverse(z: Float32Array, zNext: Float32Array, n: number): Promise<Float32Array>;
}

export interface PerStep {
  mse: number[];
  psnr: number[];
  ssim: number[];
}

export interface OpenLoopResult {
  /** Windows (episode, start) evaluated. */
  windows: number;
  trueActions: PerStep;
  shuffledActions: PerStep;
  /** Mean squared latent error per step over the latent's per-dimension variance. */
  latentNmse: number[];
}

export interface ModelEvaluation {
  openLoop: OpenLoopResult;
  /** The mean of inverseR2PerAction's defined entries. */
  inverseR2: number;
  /** Per action dimension, in the action space's order; NaN where the held-out actions are constant. */
  inverseR2PerAction: number[];
  /** A discrete set: the fraction of held-out steps whose inferred choice (largest value) is the one taken, and that of always answering the most frequent choice. */
  inverseChoice?: { accuracy: number; majority: number };
  reward?: { r2: number; mse: number };
  done?: { accuracy: number; positives: number; recall: number; precision: number };
  /** samples: frames compared by mutual k-NN / CKA; knn: the k (10, fewer when there are not more frames than that); chance level of mutual k-NN is about knn / samples. */
  /** probeR2PerColumn: per probed position column, in EvaluationInputs.positionColumns' order (empty when there are none). */
  representation: { probeR2: number; probeR2PerColumn: number[]; mutualKnn: number; knn: number; cka: number; ckaUnbiased: number; samples: number };
}

export interface EvaluationInputs {
  t: Transitions;
  trainEpisodes: readonly number[];
  heldoutEpisodes: readonly number[];
  horizon: number;
  /** State columns whose linear decodability is probed (positions and joint angles; see pipeline/eval.ts positionColumns). */
  positionColumns: readonly number[];
  /** State columns compared with the latent by mutual k-NN and CKA (every varying column). */
  stateColumns: readonly number[];
  /** Seed for the action shuffle and for subsampling. */
  seed?: number;
  /** SSIM is computed on every `ssimStride`-th window (it is the slow metric). */
  ssimStride?: number;
  /** Frames used for the representation metrics (k-NN is quadratic). */
  maxRepresentationFrames?: number;
  /**
   * Open-loop windows evaluated: at most this many, evenly spread over the held-out windows
   * (default 4,096). Long episodes give tens of thousands of heavily overlapping windows whose
   * decoding dominated eval (CartPole: 11,163 windows, 372 s) without changing the means.
   */
  maxWindows?: number;
  /** The actions are a discrete set's one-hot rows (card.ts modelActions): inverse dynamics is also scored as the choice it picks. */
  discrete?: boolean;
}

const f32 = (m: Matrix, rows: readonly number[]) => gatherRows(m.data, m.cols, rows);

/** PSNR of one frame, capped at 100 dB so an exact match does not make the mean infinite. */
const framePsnr = (mse: number) => Math.min(psnr(mse), 100);

/** The (episode, start) windows with `horizon` real steps ahead: every one, or maxWindows evenly spread. */
function windowsOf(t: Transitions, episodes: readonly number[], horizon: number, maxWindows = 4096): { episode: number; start: number }[] {
  const out: { episode: number; start: number }[] = [];
  for (const e of episodes) for (let s = 0; s + horizon <= t.lengths[e]!; s++) out.push({ episode: e, start: s });
  if (out.length > maxWindows) return spread(out, maxWindows);
  return out;
}

function emptySteps(h: number): PerStep {
  return { mse: new Array<number>(h).fill(0), psnr: new Array<number>(h).fill(0), ssim: new Array<number>(h).fill(0) };
}

/**
 * Latents of the given frame rows, each with its predecessor when the model's encoder takes one.
 * Rows that run through whole episodes go in as sequences (each frame encoded once, and the
 * predecessor of the next); others go in as (frame, predecessor) pairs.
 */
export function encodeRows(model: LatentWorldModel, t: Transitions, rows: readonly number[]): Promise<Float32Array> {
  if ((model.context ?? 1) === 1) return model.encode(encoderInput(t, rows), rows.length);
  const previous = predecessorRows(t, rows);
  const lengths = sequenceLengths(rows, previous);
  if (lengths !== null && model.encodeSequences) return model.encodeSequences(encoderInput(t, rows), lengths);
  return model.encode(encoderInput(t, rows), rows.length, encoderInput(t, previous));
}

/** Lengths of `rows` as back-to-back sequences (each row's predecessor the row before it, each sequence opening on its own predecessor), or null when they are not. */
function sequenceLengths(rows: readonly number[], previous: readonly number[]): number[] | null {
  const lengths: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (previous[i] === rows[i]) lengths.push(1);
    else if (i > 0 && previous[i] === rows[i - 1]) lengths[lengths.length - 1]!++;
    else return null;
  }
  return lengths;
}

/** Copy-last-frame: the prediction for every step is the context frame. */
export function copyLastBaseline(inputs: EvaluationInputs): PerStep & { windows: number } {
  const { t, horizon: H } = inputs;
  const D = t.width * t.height * 3;
  const windows = windowsOf(t, inputs.heldoutEpisodes, H, inputs.maxWindows);
  if (windows.length === 0) throw new TrajforgeError('E_MODEL_SHAPE', `no held-out episode has ${H} steps`);
  const out = emptySteps(H);
  const ssimCount = new Array<number>(H).fill(0);
  const stride = inputs.ssimStride ?? 4;
  windows.forEach(({ episode, start }, w) => {
    const first = t.frameStarts[episode]! + start;
    const rows = frameRows(t, Array.from({ length: H + 1 }, (_, h) => first + h));
    const ctx = rows.subarray(0, D);
    for (let h = 0; h < H; h++) {
      const truth = rows.subarray((h + 1) * D, (h + 2) * D);
      let se = 0;
      for (let i = 0; i < D; i++) se += (ctx[i]! - truth[i]!) ** 2;
      out.mse[h]! += se / D;
      out.psnr[h]! += framePsnr(se / D);
      if (w % stride === 0) {
        out.ssim[h]! += ssim(ctx, truth, t.width, t.height, 3);
        ssimCount[h]!++;
      }
    }
  });
  return finishSteps(out, windows.length, ssimCount, H);
}

function finishSteps<T extends PerStep>(s: T & { windows?: number }, windows: number, ssimCount: number[], H: number): T & { windows: number } {
  for (let h = 0; h < H; h++) {
    s.mse[h]! /= windows;
    s.psnr[h]! /= windows;
    s.ssim[h]! /= Math.max(1, ssimCount[h]!);
  }
  return Object.assign(s, { windows });
}

export async function evaluateWorldModel(model: LatentWorldModel, inputs: EvaluationInputs): Promise<ModelEvaluation> {
  const { t, horizon: H } = inputs;
  const D = t.width * t.height * 3;
  const L = model.latent;
  const A = t.actions.cols;
  const rng = new Rng(inputs.seed ?? 0);
  const windows = windowsOf(t, inputs.heldoutEpisodes, H, inputs.maxWindows);
  if (windows.length === 0) throw new TrajforgeError('E_MODEL_SHAPE', `no held-out episode has ${H} steps`);
  const n = windows.length;

  // Latents of every held-out frame, once.
  const heldFrames: number[] = [];
  for (const e of inputs.heldoutEpisodes) for (let i = 0; i <= t.lengths[e]!; i++) heldFrames.push(t.frameStarts[e]! + i);
  const zHeld = await encodeRows(model, t, heldFrames);
  const zIndex = new Map(heldFrames.map((r, i) => [r, i]));
  const zOf = (row: number) => zHeld.subarray(zIndex.get(row)! * L, (zIndex.get(row)! + 1) * L);
  const zStd = columnStats(zHeld, L, heldFrames.map((_, i) => i)).std;
  // Latent dims that barely vary over the held-out frames (unused, or frames that never change,
  // where only float rounding moves z) would divide by ~0: the NMSE averages the dims whose spread
  // reaches 1e-4 of the latent's typical size, and is undefined when none does.
  let squares = 0;
  for (const v of zHeld) squares += v * v;
  const typical = Math.sqrt(squares / Math.max(1, zHeld.length));
  const varying = Array.from(zStd, (s, j) => (s > 1e-4 * typical && s > 0 ? j : -1)).filter((j) => j >= 0);

  const ctxRows = windows.map((w) => t.frameStarts[w.episode]! + w.start);
  const z0 = new Float32Array(n * L);
  ctxRows.forEach((r, i) => z0.set(zOf(r), i * L));
  const base = await model.decode(z0, n);
  const ctxFrames = frameRows(t, ctxRows);

  // Shuffled actions: each window takes the action sequence of a random other held-out window.
  const donors = windows.map((w) => {
    for (let tries = 0; tries < 20; tries++) {
      const d = windows[rng.int(n)]!;
      if (d.episode !== w.episode || inputs.heldoutEpisodes.length === 1) return d;
    }
    return windows[rng.int(n)]!;
  });

  const stride = inputs.ssimStride ?? 4;
  const runOpenLoop = async (actionWindows: readonly { episode: number; start: number }[], withLatent: boolean) => {
    const out = emptySteps(H);
    const latentNmse = new Array<number>(H).fill(0);
    const ssimCount = new Array<number>(H).fill(0);
    let z: Float32Array = z0;
    for (let h = 0; h < H; h++) {
      const actions = new Float32Array(n * A);
      actionWindows.forEach((w, i) => actions.set(t.actions.data.subarray((t.actionStarts[w.episode]! + w.start + h) * A, (t.actionStarts[w.episode]! + w.start + h + 1) * A), i * A));
      z = (await model.step(z, actions, n)).next;
      const decoded = await model.decode(z, n);
      const pred = new Float32Array(D);
      const truths = frameRows(t, ctxRows.map((r) => r + h + 1));
      for (let i = 0; i < n; i++) {
        const truth = truths.subarray(i * D, (i + 1) * D);
        let se = 0;
        for (let p = 0; p < D; p++) {
          const v = Math.min(1, Math.max(0, ctxFrames[i * D + p]! + decoded[i * D + p]! - base[i * D + p]!));
          pred[p] = v;
          se += (v - truth[p]!) ** 2;
        }
        out.mse[h]! += se / D;
        out.psnr[h]! += framePsnr(se / D);
        if (i % stride === 0) {
          out.ssim[h]! += ssim(pred, truth, t.width, t.height, 3);
          ssimCount[h]!++;
        }
        if (withLatent) {
          const zt = zOf(ctxRows[i]! + h + 1);
          let e = 0;
          for (const j of varying) e += (z[i * L + j]! - zt[j]!) ** 2 / zStd[j]! ** 2;
          latentNmse[h]! += varying.length > 0 ? e / varying.length : NaN;
        }
      }
    }
    return { steps: finishSteps(out, n, ssimCount, H), latentNmse: latentNmse.map((v) => v / n) };
  };
  const real = await runOpenLoop(windows, true);
  const shuffled = await runOpenLoop(donors, false);

  // One-step heads and inverse dynamics on every held-out transition.
  const cur: number[] = [];
  const acts: number[] = [];
  for (const e of inputs.heldoutEpisodes) {
    for (let s = 0; s < t.lengths[e]!; s++) {
      cur.push(t.frameStarts[e]! + s);
      acts.push(t.actionStarts[e]! + s);
    }
  }
  const m = cur.length;
  const zc = new Float32Array(m * L);
  const zn = new Float32Array(m * L);
  cur.forEach((r, i) => {
    zc.set(zOf(r), i * L);
    zn.set(zOf(r + 1), i * L);
  });
  const trueActions = f32(t.actions, acts);
  const inferred = await model.inverse(zc, zn, m);
  const inverseR2PerAction = r2Columns(matrix(m, A, inferred), matrix(m, A, trueActions));
  const inverseR2 = r2Average(inverseR2PerAction);
  const heads = await model.step(zc, trueActions, m);
  const evaluation: ModelEvaluation = {
    openLoop: { windows: n, trueActions: real.steps, shuffledActions: shuffled.steps, latentNmse: real.latentNmse },
    inverseR2,
    inverseR2PerAction,
    ...(inputs.discrete && A > 0 ? { inverseChoice: choiceAccuracy(inferred, trueActions, A) } : {}),
    representation: await representation(model, inputs, zHeld, heldFrames),
  };
  if (heads.reward) {
    const truth = acts.map((a) => t.rewards[a]!);
    const pred = [...heads.reward];
    evaluation.reward = { r2: r2Score(matrix(m, 1, pred), matrix(m, 1, truth)), mse: truth.reduce((s, v, i) => s + (v - pred[i]!) ** 2, 0) / m };
  }
  if (heads.done) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let correct = 0;
    acts.forEach((a, i) => {
      const y = t.terminated[a]! > 0.5;
      const p = heads.done![i]! > 0.5;
      if (y === p) correct++;
      if (y && p) tp++;
      if (!y && p) fp++;
      if (y && !p) fn++;
    });
    evaluation.done = { accuracy: correct / m, positives: tp + fn, recall: tp + fn > 0 ? tp / (tp + fn) : NaN, precision: tp + fp > 0 ? tp / (tp + fp) : NaN };
  }
  return evaluation;
}

/** Evenly spaced subset of at most `max` items. */
function spread<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]!);
}

/** The unbiased HSIC estimator divides by (n − 1)(n − 2)(n − 3): fewer held-out frames leave it undefined (reported as n/a). */
const CKA_UNBIASED_MIN_SAMPLES = 4;

async function representation(model: LatentWorldModel, inputs: EvaluationInputs, zHeld: Float32Array, heldFrames: readonly number[]): Promise<ModelEvaluation['representation']> {
  const { t } = inputs;
  const L = model.latent;
  const S = t.states.cols;
  const max = inputs.maxRepresentationFrames ?? 2000;
  // Probe: ridge fitted on training frames, scored on held-out frames.
  const trainFrames: number[] = [];
  for (const e of inputs.trainEpisodes) for (let i = 0; i <= t.lengths[e]!; i++) trainFrames.push(t.frameStarts[e]! + i);
  const fitRows = spread(trainFrames, 4 * max);
  const zTrain = await encodeRows(model, t, fitRows);
  const testIdx = spread(
    heldFrames.map((_, i) => i),
    4 * max,
  );
  const features = matrix(fitRows.length + testIdx.length, L);
  features.data.set(zTrain);
  testIdx.forEach((i, k) => {
    for (let j = 0; j < L; j++) features.data[(fitRows.length + k) * L + j] = zHeld[i * L + j]!;
  });
  const stateRows = [...fitRows, ...testIdx.map((i) => heldFrames[i]!)];
  const pick = (cols: readonly number[], rows: readonly number[]) => {
    const out = matrix(rows.length, cols.length);
    rows.forEach((r, i) => cols.forEach((c, j) => (out.data[i * cols.length + j] = t.states.data[r * S + c]!)));
    return out;
  };
  const probeR2PerColumn = inputs.positionColumns.length > 0 ? linearProbeR2Columns(features, pick(inputs.positionColumns, stateRows), { trainFraction: fitRows.length / stateRows.length, lambda: 1e-4 }) : [];
  const probeR2 = r2Average(probeR2PerColumn);

  // Alignment with the (standardised) state on held-out frames.
  const idx = spread(
    heldFrames.map((_, i) => i),
    max,
  );
  const zm = matrix(idx.length, L);
  idx.forEach((i, k) => {
    for (let j = 0; j < L; j++) zm.data[k * L + j] = zHeld[i * L + j]!;
  });
  const sm = standardise(pick(inputs.stateColumns, idx.map((i) => heldFrames[i]!)));
  const knn = Math.min(10, idx.length - 1);
  return { probeR2, probeR2PerColumn, mutualKnn: knn >= 1 ? mutualKnnAlignment(zm, sm, knn) : Number.NaN, knn, cka: linearCka(zm, sm), ckaUnbiased: idx.length >= CKA_UNBIASED_MIN_SAMPLES ? linearCkaUnbiased(zm, sm) : Number.NaN, samples: idx.length };
}

function standardise(x: Matrix): Matrix {
  const { mean, std } = columnStats(x.data, x.cols, Array.from({ length: x.rows }, (_, r) => r));
  const out = matrix(x.rows, x.cols);
  for (let i = 0; i < x.data.length; i++) out.data[i] = (x.data[i]! - mean[i % x.cols]!) / (std[i % x.cols]! || 1);
  return out;
}

/** Open-loop frames (residual decoding) for one window under its true actions: H × (H·W·3). */
export async function predictWindow(model: LatentWorldModel, t: Transitions, episode: number, start: number, horizon: number): Promise<Float32Array> {
  const D = t.width * t.height * 3;
  const A = t.actions.cols;
  const ctxRow = t.frameStarts[episode]! + start;
  const ctx = frameRows(t, [ctxRow]);
  let z: Float32Array = await encodeRows(model, t, [ctxRow]);
  const base = await model.decode(z, 1);
  const out = new Float32Array(horizon * D);
  for (let h = 0; h < horizon; h++) {
    const a = t.actions.data.subarray((t.actionStarts[episode]! + start + h) * A, (t.actionStarts[episode]! + start + h + 1) * A);
    z = (await model.step(z, Float32Array.from(a), 1)).next;
    const decoded = await model.decode(z, 1);
    for (let p = 0; p < D; p++) out[h * D + p] = Math.min(1, Math.max(0, ctx[p]! + decoded[p]! - base[p]!));
  }
  return out;
}

/** A probed column's spread must reach this share of the widest column of its kind (positions, or angles). */
export const PROBE_MIN_RELATIVE_SPREAD = 0.01;

/**
 * Of the position columns, those the probe scores over the given frame rows, and those it leaves
 * out with their standard deviation. A column that barely moves compared with the rest of its kind
 * (a resting cube's height jitters by 0.3 mm while the gripper ranges over 10 cm: a hundredth of a
 * pixel at 64x64) has an R² that measures solver noise, and one such column would swing the mean.
 * Positions share a unit (metres) and angles theirs, so each kind is compared within itself.
 */
export function probeColumns(names: readonly string[], columns: readonly number[], states: Matrix, rows: readonly number[]): { probed: number[]; skipped: { name: string; sd: number }[] } {
  const { std } = columnStats(states.data, states.cols, rows);
  const kind = (c: number) => (/\.(x|y|z)$/.test(names[c]!) ? 'position' : 'angle');
  const widest = new Map<string, number>();
  for (const c of columns) widest.set(kind(c), Math.max(widest.get(kind(c)) ?? 0, std[c]!));
  const probed: number[] = [];
  const skipped: { name: string; sd: number }[] = [];
  for (const c of columns) {
    if (std[c]! >= PROBE_MIN_RELATIVE_SPREAD * widest.get(kind(c))!) probed.push(c);
    else skipped.push({ name: names[c]!, sd: std[c]! });
  }
  return { probed, skipped };
}
