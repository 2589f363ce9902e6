/**
 * Training the keypoint world model (model.ts) on the CPU, one phase per function so that each can
 * be run and tested alone:
 *   fitStem              the PCA stem on a random subset of training frames, and every frame's coefficients
 *   fitKeypoints         colour keypoints, the sprite decoder, every frame's standardised keypoint features
 *   stateTargets         the varying state columns, standardised: what the state head learns
 *   trainStateHead       [coefficients, keypoints] -> normalised state (Adam on minibatches)
 *   encodeLatents        z = [coefficients, state estimate, standardised keypoints] for every frame
 *   trainDynamics        dynamics (unrolled open loop), reward/done heads and inverse on the fixed latents
 *   assembleLatentModel  folds the training-time standardisations into the layers: the model
 * trainLatentModel composes them. The phases that draw random numbers take the Rng they advance,
 * so one generator threaded through them in this order makes a seed fix the whole run.
 */
import { TrajforgeError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { columnStats } from '../linalg.js';
import { Adam, apply, backward, clearGrads, createMlp, forward, gradientList, parameterList, zeroGrads, type Dense } from '../nn.js';
import { fitPca } from '../pca.js';
import type { TrainingLogEntry } from '../training-log.js';
import { episodeRows, gatherRows, pickRows, varyingColumns, type Transitions } from '../transitions.js';
import { colourKeypointFeatures, fitColourKeypoints, type ColourKeypoints } from './colour-keypoints.js';
import { concatColumns, type LatentModel } from './model.js';
import { fitSprites, type Sprites } from './sprites.js';

export interface LatentModelOptions {
  /** Latent size: stem coefficients + supervised state dims. */
  latent: number;
  hidden: number;
  /** Colour keypoints (prototype colours) given to the state head; 0: coefficients only. */
  keypoints: number;
  /** 1: the latent carries a state estimate supervised by the simulator; 0: coefficients only (the ablation). */
  stateWeight: number;
  stateEpochs: number;
  dynamicsEpochs: number;
  /** Open-loop steps unrolled in the dynamics loss. */
  rolloutSteps: number;
  batch: number;
  learningRate: number;
  seed: number;
  /** Frames used to fit the stem (a random subset keeps the closed-form fit fast). */
  stemFrames: number;
  /**
   * Gaussian noise (in units of each dim's typical step) added to each training rollout's start
   * latent. A regulariser against the train / held-out gap (10-step MSE 47 % vs 29 % below
   * copy-last without it): on PushCube held-out 10-step MSE went 29.2 % (0), 29.5 (0.5), 31.2 (1),
   * 31.6 (1.5), 30.4 (2), 22.0 (3) % below copy-last.
   */
  dynamicsNoise: number;
  /** Sprite side in decoded pixels (odd); 0: the decoder is the PCA stem's inverse. Needs keypoints. */
  sprites: number;
  /** Sprites kept: the keypoints whose sprites explain most (each costs decoder time). */
  spriteCount: number;
  /** Weight of the keypoint dims in the dynamics loss, relative to the other latent dims. */
  keypointLossWeight: number;
}

export const DEFAULT_LATENT_OPTIONS: LatentModelOptions = {
  latent: 128,
  hidden: 128,
  keypoints: 12,
  stateWeight: 1,
  stateEpochs: 12,
  dynamicsEpochs: 6,
  rolloutSteps: 8,
  batch: 32,
  learningRate: 3e-3,
  seed: 0,
  stemFrames: 2000,
  dynamicsNoise: 1.5,
  sprites: 5,
  spriteCount: 8,
  keypointLossWeight: 4,
};

export type TrainingProgress = (entry: TrainingLogEntry & { epochs: number }) => void;

export interface ActionBounds {
  low: Float32Array;
  high: Float32Array;
}

export function trainLatentModel(
  t: Transitions,
  trainEpisodes: readonly number[],
  bounds: ActionBounds,
  opts: Partial<LatentModelOptions> = {},
  progress?: TrainingProgress,
): { model: LatentModel; log: TrainingLogEntry[] } {
  const o = { ...DEFAULT_LATENT_OPTIONS, ...opts };
  const rng = new Rng(o.seed);
  const rows = episodeRows(t, trainEpisodes);
  if (rows.current.length === 0) throw new TrajforgeError('E_MODEL_SHAPE', 'no training transitions');
  const stem = fitStem(t, rows.frames, o, rng);
  const keypoints = fitKeypoints(t, trainEpisodes, rows.frames, stem.rows, o);
  const targets = stateTargets(t, rows.frames, o);
  const headInput = stateHeadInput(stem, keypoints, t.frames.rows);
  const state = trainStateHead(headInput, targets, rows.frames, o, rng, progress);
  const latents = encodeLatents(stem, keypoints, state.head, headInput, targets.columns.length, t.frames.rows);
  const actions = actionNormalisation(bounds, t.actions.cols);
  const dynamics = trainDynamics(t, trainEpisodes, rows.actions, latents, actions, o, rng, progress);
  const model = assembleLatentModel(t, { stem, keypoints, targets, stateHead: state.head, dynamics, actions });
  return { model, log: [...state.log, ...dynamics.log] };
}

// ---- the stem ----

/** The PCA stem: frames (at the decoded size) -> coefficients, and back. */
export interface Stem {
  /** The training frame rows the stem (and the colour keypoints) are fitted on. */
  readonly rows: number[];
  /** Coefficients per frame: the principal components kept. */
  readonly size: number;
  readonly down: Dense;
  readonly up: Dense;
  /** Every frame's coefficients (t.frames.rows × size), so frame row indices carry over. */
  readonly coefficients: Float32Array;
}

/**
 * PCA on a random subset of stemFrames training frames, keeping what the latent has room for
 * after the state and keypoint dims. Draws the subset from rng.
 */
export function fitStem(t: Transitions, trainFrames: readonly number[], o: Pick<LatentModelOptions, 'latent' | 'keypoints' | 'stateWeight' | 'stemFrames' | 'seed'>, rng: Rng): Stem {
  const stemRows = [...shuffled(trainFrames.length, rng)].slice(0, Math.min(o.stemFrames, trainFrames.length)).map((i) => trainFrames[i]!);
  const varying = o.stateWeight > 0 ? varyingColumns(t.states, trainFrames).length : 0;
  const kpDims = 3 * Math.max(0, o.keypoints);
  if (o.latent <= varying + kpDims) throw new TrajforgeError('E_MODEL_SHAPE', `latent size ${o.latent} must exceed the ${varying} state and ${kpDims} keypoint dimensions it carries`);
  const k = Math.min(o.latent - varying - kpDims, stemRows.length - 1);
  const pca = fitPca(pickRows(t.frames, stemRows), k, { seed: o.seed });
  // One global scale makes coefficients ~unit-sized while keeping coefficient MSE proportional to pixel MSE.
  const scale = Math.sqrt(pca.explainedVariance.reduce((s, v) => s + v, 0) / k) || 1;
  const { down, up } = stemLayers(pca.mean, pca.components, scale);
  return { rows: stemRows, size: k, down, up, coefficients: apply([down], Float32Array.from(t.frames.data), t.frames.rows) };
}

/** The stem as two fixed dense layers: frames -> coefficients / scale, and back. */
function stemLayers(mean: Float64Array, components: { rows: number; cols: number; data: Float64Array }, scale: number): { down: Dense; up: Dense } {
  const k = components.rows;
  const d = components.cols;
  const down = new Float32Array(d * k);
  const downBias = new Float32Array(k);
  const up = new Float32Array(k * d);
  for (let c = 0; c < k; c++) {
    let dot = 0;
    for (let i = 0; i < d; i++) {
      const v = components.data[c * d + i]!;
      down[i * k + c] = v / scale;
      up[c * d + i] = v * scale;
      dot += v * mean[i]!;
    }
    downBias[c] = -dot / scale;
  }
  return {
    down: { inputs: d, outputs: k, weights: down, bias: downBias, activation: 'linear' },
    up: { inputs: k, outputs: d, weights: up, bias: Float32Array.from(mean), activation: 'linear' },
  };
}

// ---- colour keypoints and the sprite decoder ----

export interface KeypointFeatures {
  /** Absent when the options ask for no keypoints. */
  readonly keypoints?: ColourKeypoints;
  /** The decoder, when the options ask for sprites. */
  readonly sprites?: Sprites;
  /** Features per frame: 3 per keypoint (mass, x, y), 0 without keypoints. */
  readonly size: number;
  /** The standardisation applied to the features (std 1 where a feature is constant). */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** Every frame's standardised features (t.frames.rows × size). */
  readonly features: Float32Array;
}

/**
 * Colour keypoints fitted on the stem's frames at camera resolution, and the sprites fitted to
 * frame changes at the raw keypoints of the training episodes (before the features are
 * standardised, since sprites are drawn at raw centroids).
 */
export function fitKeypoints(
  t: Transitions,
  trainEpisodes: readonly number[],
  trainFrames: readonly number[],
  stemRows: readonly number[],
  o: Pick<LatentModelOptions, 'keypoints' | 'sprites' | 'spriteCount' | 'seed'>,
): KeypointFeatures {
  const src = t.source;
  const srcPixels = src.width * src.height * 3;
  const stemSource = new Uint8Array(stemRows.length * srcPixels);
  stemRows.forEach((r, i) => stemSource.set(src.data.subarray(r * srcPixels, (r + 1) * srcPixels), i * srcPixels));
  const keypoints = o.keypoints > 0 ? fitColourKeypoints(stemSource, stemRows.length, src.width, src.height, o.keypoints, { seed: o.seed, scale: 1 / 255 }) : undefined;
  const kpDim = keypoints ? 3 * o.keypoints : 0;
  const kpRaw = keypoints ? colourKeypointFeatures(keypoints, src.data, t.frames.rows, 1 / 255) : new Float32Array(0);
  if (o.sprites > 0 && !keypoints) throw new TrajforgeError('E_MODEL_SHAPE', 'sprites are drawn at the colour keypoints: set keypoints > 0, or sprites 0 for the PCA decoder');
  const sprites =
    o.sprites > 0
      ? fitSprites(t.frames.data, kpRaw, o.keypoints, t.width, t.height, trainEpisodes.map((e) => ({ start: t.frameStarts[e]!, steps: t.lengths[e]! })), { size: o.sprites, keep: o.spriteCount, seed: o.seed })
      : undefined;
  const kpStats = columnStats(kpRaw, kpDim, trainFrames);
  const mean = Float32Array.from(kpStats.mean);
  const std = Float32Array.from(kpStats.std, (v) => v || 1);
  for (let i = 0; i < kpRaw.length; i++) kpRaw[i] = (kpRaw[i]! - mean[i % kpDim]!) / std[i % kpDim]!;
  return { keypoints, sprites, size: kpDim, mean, std, features: kpRaw };
}

// ---- the state head ----

export interface StateTargets {
  /** State columns tied to the latent: every one that varies over the training frames (none when stateWeight is 0). */
  readonly columns: number[];
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** Every frame's standardised targets (t.frames.rows × columns.length). */
  readonly targets: Float32Array;
}

export function stateTargets(t: Transitions, trainFrames: readonly number[], o: Pick<LatentModelOptions, 'stateWeight'>): StateTargets {
  const sDim = t.states.cols;
  const sStats = columnStats(t.states.data, sDim, trainFrames);
  const columns = o.stateWeight > 0 ? varyingColumns(t.states, trainFrames) : [];
  const S = columns.length;
  const mean = Float32Array.from(columns.map((j) => sStats.mean[j]!));
  const std = Float32Array.from(columns.map((j) => sStats.std[j]!));
  const targets = new Float32Array(t.frames.rows * S);
  for (let r = 0; r < t.frames.rows; r++) {
    columns.forEach((j, c) => (targets[r * S + c] = (t.states.data[r * sDim + j]! - mean[c]!) / std[c]!));
  }
  return { columns, mean, std, targets };
}

/** The state head's input for each of n frames: [coefficients, standardised keypoint features]. */
export function stateHeadInput(stem: Stem, keypoints: KeypointFeatures, n: number): { data: Float32Array; width: number } {
  const data = keypoints.keypoints ? concatColumns(stem.coefficients, stem.size, keypoints.features, keypoints.size, n) : stem.coefficients;
  return { data, width: stem.size + keypoints.size };
}

/**
 * The state head, [coefficients, keypoints] -> normalised true state, trained by Adam with a
 * cosine schedule on minibatches of the training frames. It is created (drawing its initial
 * weights from rng) even without state targets, so the random stream does not depend on them;
 * it then has one output and no epochs.
 */
export function trainStateHead(
  input: { data: Float32Array; width: number },
  targets: StateTargets,
  trainFrames: readonly number[],
  o: Pick<LatentModelOptions, 'hidden' | 'learningRate' | 'stateEpochs' | 'batch'>,
  rng: Rng,
  progress?: TrainingProgress,
): { head: Dense[]; log: TrainingLogEntry[] } {
  const S = targets.columns.length;
  const log: TrainingLogEntry[] = [];
  const stateHead = createMlp([input.width, o.hidden, o.hidden, Math.max(1, S)], 'relu', 'linear', rng);
  const headGrads = zeroGrads(stateHead);
  const headAdam = new Adam(parameterList([stateHead]), o.learningRate, 5);
  const frameRows = Uint32Array.from(trainFrames);
  const steps = Math.ceil(frameRows.length / o.batch);
  for (let epoch = 0; S > 0 && epoch < o.stateEpochs; epoch++) {
    headAdam.learningRate = cosine(o.learningRate, epoch, o.stateEpochs);
    const order = shuffled(frameRows.length, rng);
    let stateSum = 0;
    for (let b = 0; b < steps; b++) {
      const from = b * o.batch;
      const n = Math.min(o.batch, frameRows.length - from);
      const batchRows = Array.from({ length: n }, (_, i) => frameRows[order[from + i]!]!);
      const out = forward(stateHead, gatherRows(input.data, input.width, batchRows), n);
      const target = gatherRows(targets.targets, S, batchRows);
      const dOut = new Float32Array(n * S);
      for (let i = 0; i < dOut.length; i++) {
        const d = out.y[i]! - target[i]!;
        stateSum += d * d;
        dOut[i] = (2 * d) / (n * S);
      }
      clearGrads(headGrads);
      backward(stateHead, out.tape, dOut, headGrads);
      headAdam.step(gradientList([headGrads]));
    }
    const entry: TrainingLogEntry = { phase: 'state', epoch: epoch + 1, loss: stateSum / (frameRows.length * S), parts: { state_mse: stateSum / (frameRows.length * S) } };
    log.push(entry);
    progress?.({ ...entry, epochs: o.stateEpochs });
  }
  return { head: stateHead, log };
}

// ---- the latents ----

/** Every frame's z = [coefficients, state estimate, standardised keypoints], with its layout. */
export interface Latents {
  /** t.frames.rows × size. */
  readonly z: Float32Array;
  readonly size: number;
  /** Stem coefficients at the front of z. */
  readonly coefficients: number;
  /** State estimate dims after the coefficients. */
  readonly state: number;
  /** Keypoint dims at the end of z. */
  readonly keypoints: number;
}

/**
 * z for each of n frames: the coefficients decode exactly (linear), the state estimate gives the
 * dynamics the physical coordinates it needs, the keypoints place the sprites.
 */
export function encodeLatents(stem: Stem, keypoints: KeypointFeatures, stateHead: readonly Dense[], headInput: { data: Float32Array }, stateDims: number, n: number): Latents {
  const k = stem.size;
  const S = stateDims;
  const kpDim = keypoints.size;
  const stateEstimate = S > 0 ? apply(stateHead, headInput.data, n) : new Float32Array(0);
  const withState = S > 0 ? concatColumns(stem.coefficients, k, stateEstimate, S, n) : stem.coefficients;
  const z = kpDim > 0 ? concatColumns(withState, k + S, keypoints.features, kpDim, n) : withState;
  return { z, size: k + S + kpDim, coefficients: k, state: S, keypoints: kpDim };
}

// ---- dynamics, reward/done heads and inverse on the (now fixed) latents ----

/** a_normalised = (a - center) / scale: the bounds' box mapped to [-1, 1] (unbounded dims as they are). */
export interface ActionNormalisation {
  readonly center: Float32Array;
  readonly scale: Float32Array;
}

export function actionNormalisation(bounds: ActionBounds, actionDim: number): ActionNormalisation {
  const center = new Float32Array(actionDim);
  const halfRange = new Float32Array(actionDim);
  for (let j = 0; j < actionDim; j++) {
    const lo = bounds.low[j]!;
    const hi = bounds.high[j]!;
    const finite = Number.isFinite(lo) && Number.isFinite(hi) && hi > lo;
    center[j] = finite ? (lo + hi) / 2 : 0;
    halfRange[j] = finite ? (hi - lo) / 2 : 1;
  }
  return { center, scale: halfRange };
}

export interface TrainedDynamics {
  /** [z, normalised a] -> Δz / deltaScale. */
  readonly dynamics: Dense[];
  readonly deltaScale: Float32Array;
  /** Predicts standardised rewards: assembleLatentModel folds rewardMean and rewardStd into its last layer. */
  readonly reward: Dense[];
  readonly rewardMean: number;
  readonly rewardStd: number;
  readonly done: Dense[];
  readonly inverse: Dense[];
  readonly log: TrainingLogEntry[];
}

/**
 * The dynamics, unrolled open loop for rolloutSteps steps from every training step and trained
 * by backpropagation through time, with the reward/done heads and the inverse model trained on
 * the first step of each window, all by one Adam. Draws the initial weights, the batch order and
 * the start noise from rng.
 */
export function trainDynamics(
  t: Transitions,
  trainEpisodes: readonly number[],
  trainActions: readonly number[],
  latents: Latents,
  actions: ActionNormalisation,
  o: Pick<LatentModelOptions, 'hidden' | 'learningRate' | 'dynamicsEpochs' | 'batch' | 'rolloutSteps' | 'dynamicsNoise' | 'keypointLossWeight'>,
  rng: Rng,
  progress?: TrainingProgress,
): TrainedDynamics {
  const { z, size: L, keypoints: kpDim } = latents;
  const actionDim = t.actions.cols;
  const { center, scale: halfRange } = actions;
  const log: TrainingLogEntry[] = [];
  const actionsN = new Float32Array(t.actions.rows * actionDim);
  for (let r = 0; r < t.actions.rows; r++) {
    for (let j = 0; j < actionDim; j++) actionsN[r * actionDim + j] = (t.actions.data[r * actionDim + j]! - center[j]!) / halfRange[j]!;
  }
  const dynamics = createMlp([L + actionDim, o.hidden, o.hidden, L], 'relu', 'linear', rng);
  // Heads see (z, a, predicted z'): reward and termination depend on where the step ends up.
  const reward = createMlp([2 * L + actionDim, 64, 1], 'relu', 'linear', rng);
  const done = createMlp([2 * L + actionDim, 64, 1], 'relu', 'sigmoid', rng);
  // The reward head learns standardised rewards; assembleLatentModel folds the scaling into its last layer.
  const rewardStats = columnStats(t.rewards, 1, trainActions);
  const rewardMean = rewardStats.mean[0]!;
  const rewardStd = rewardStats.std[0]! || 1;
  const inverse = createMlp([2 * L, o.hidden, o.hidden, actionDim], 'relu', 'linear', rng);
  const dynGrads = zeroGrads(dynamics);
  const rewGrads = zeroGrads(reward);
  const doneGrads = zeroGrads(done);
  const invGrads = zeroGrads(inverse);
  const dynAdam = new Adam(parameterList([dynamics, reward, done, inverse]), o.learningRate, 5);

  const K = Math.max(1, o.rolloutSteps);
  const { frames: windowFrames, actions: windowActions, remaining: windowRemaining } = rolloutWindows(t, trainEpisodes);
  const deltaScale = stepScales(latents, windowFrames);
  // Start as the identity map: the last layer's weights at zero.
  dynamics[dynamics.length - 1]!.weights.fill(0);
  const steps2 = Math.ceil(windowFrames.length / o.batch);
  for (let epoch = 0; epoch < o.dynamicsEpochs; epoch++) {
    dynAdam.learningRate = cosine(o.learningRate, epoch, o.dynamicsEpochs);
    const order = shuffled(windowFrames.length, rng);
    let latentSum = 0;
    let latentCount = 0;
    let rewardSum = 0;
    let doneSum = 0;
    let inverseSum = 0;
    for (let b = 0; b < steps2; b++) {
      const from = b * o.batch;
      const n = Math.min(o.batch, windowFrames.length - from);
      const fr = Array.from({ length: n }, (_, i) => windowFrames[order[from + i]!]!);
      const ar = Array.from({ length: n }, (_, i) => windowActions[order[from + i]!]!);
      // Steps remaining in each window's episode: rollouts stop at the episode end.
      const remaining = Array.from({ length: n }, (_, i) => windowRemaining[order[from + i]!]!);
      clearGrads(dynGrads);
      clearGrads(rewGrads);
      clearGrads(doneGrads);
      clearGrads(invGrads);

      // Open-loop unroll: z_{k+1} = z_k + f(z_k, a_k); loss on every step against encode(frame).
      let zk = gatherRows(z, L, fr);
      if (o.dynamicsNoise > 0) for (let i = 0; i < zk.length; i++) zk[i]! += o.dynamicsNoise * deltaScale[i % L]! * rng.normal();
      const tapes: { tape: ReturnType<typeof forward>['tape']; mask: Float32Array }[] = [];
      const dzs: Float32Array[] = [];
      for (let step = 0; step < K; step++) {
        const a = gatherRows(actionsN, actionDim, ar.map((r, i) => r + Math.min(step, remaining[i]! - 1)));
        const input = concatColumns(zk, L, a, actionDim, n);
        const out = forward(dynamics, input, n);
        const next = new Float32Array(n * L);
        const dNext = new Float32Array(n * L);
        const mask = new Float32Array(n);
        for (let r = 0; r < n; r++) {
          if (step >= remaining[r]!) continue; // past the episode end: no target, no gradient
          mask[r] = 1;
          const target = (fr[r]! + step + 1) * L;
          for (let j = 0; j < L; j++) {
            const v = zk[r * L + j]! + out.y[r * L + j]! * deltaScale[j]!;
            next[r * L + j] = v;
            const d = v - z[target + j]!;
            const w = (j >= L - kpDim ? o.keypointLossWeight : 1) / (deltaScale[j]! * deltaScale[j]!);
            latentSum += d * d * w;
            dNext[r * L + j] = (2 * d * w) / (n * L * K);
          }
          latentCount++;
        }
        for (let r = 0; r < n; r++) if (!mask[r]) next.set(zk.subarray(r * L, (r + 1) * L), r * L);
        tapes.push({ tape: out.tape, mask });
        dzs.push(dNext);
        zk = next;
        if (step === 0) {
          // Heads and inverse train on real (encoded) transitions; heads also see the predicted z' (no gradient into the dynamics).
          const headIn = concatColumns(input, L + actionDim, next, L, n);
          const rOut = forward(reward, headIn, n);
          const dOut = forward(done, headIn, n);
          const dR = new Float32Array(n);
          const dD = new Float32Array(n);
          const invIn = new Float32Array(n * 2 * L);
          for (let r = 0; r < n; r++) {
            const rt = (t.rewards[ar[r]!]! - rewardMean) / rewardStd;
            const dt = t.terminated[ar[r]!]!;
            const er = rOut.y[r]! - rt;
            rewardSum += er * er * rewardStd * rewardStd;
            dR[r] = (2 * er) / n;
            const p = Math.min(1 - 1e-6, Math.max(1e-6, dOut.y[r]!));
            doneSum += -(dt * Math.log(p) + (1 - dt) * Math.log(1 - p));
            // Cross-entropy through the sigmoid: d/dp = (p - y) / (p (1 - p)), backward multiplies by p (1 - p).
            dD[r] = (p - dt) / (p * (1 - p)) / n;
            for (let j = 0; j < L; j++) {
              const z0 = z[fr[r]! * L + j]!;
              invIn[r * 2 * L + j] = z0;
              invIn[r * 2 * L + L + j] = z[(fr[r]! + 1) * L + j]! - z0;
            }
          }
          backward(reward, rOut.tape, dR, rewGrads);
          backward(done, dOut.tape, dD, doneGrads);
          const inv = forward(inverse, invIn, n);
          const dInv = new Float32Array(n * actionDim);
          for (let r = 0; r < n; r++) {
            for (let j = 0; j < actionDim; j++) {
              const d = inv.y[r * actionDim + j]! - actionsN[ar[r]! * actionDim + j]!;
              inverseSum += d * d;
              dInv[r * actionDim + j] = (2 * d) / (n * actionDim);
            }
          }
          backward(inverse, inv.tape, dInv, invGrads);
        }
      }
      // Backpropagate through time: dL/dz_k = direct loss + dL/dz_{k+1} (identity path + MLP path).
      let carry = new Float32Array(n * L);
      for (let step = K - 1; step >= 0; step--) {
        const { tape, mask } = tapes[step]!;
        const dNext = dzs[step]!;
        for (let i = 0; i < carry.length; i++) carry[i]! += dNext[i]!;
        for (let r = 0; r < n; r++) if (!mask[r]) carry.fill(0, r * L, (r + 1) * L);
        const dOut = new Float32Array(carry.length);
        for (let i = 0; i < carry.length; i++) dOut[i] = carry[i]! * deltaScale[i % L]!;
        const dIn = backward(dynamics, tape, dOut, dynGrads);
        const prev = new Float32Array(n * L);
        for (let r = 0; r < n; r++) {
          for (let j = 0; j < L; j++) prev[r * L + j] = carry[r * L + j]! + dIn[r * (L + actionDim) + j]!;
        }
        carry = prev;
      }
      dynAdam.step(gradientList([dynGrads, rewGrads, doneGrads, invGrads]));
    }
    const m = windowFrames.length;
    const entry: TrainingLogEntry = {
      phase: 'dynamics',
      epoch: epoch + 1,
      loss: latentSum / Math.max(1, latentCount * L),
      parts: { latent_delta_nmse: latentSum / Math.max(1, latentCount * L), reward_mse: rewardSum / m, done_bce: doneSum / m, inverse_mse: inverseSum / (m * actionDim) },
    };
    log.push(entry);
    progress?.({ ...entry, epochs: o.dynamicsEpochs });
  }
  return { dynamics, deltaScale, reward, rewardMean, rewardStd, done, inverse, log };
}

/**
 * One rollout window per training step: its frame row, its action row and the steps left in its
 * episode (rollouts stop at the episode end).
 */
function rolloutWindows(t: Transitions, trainEpisodes: readonly number[]): { frames: number[]; actions: number[]; remaining: number[] } {
  const windowFrames: number[] = [];
  const windowActions: number[] = [];
  const windowRemaining: number[] = [];
  for (const e of trainEpisodes) {
    for (let s = 0; s < t.lengths[e]!; s++) {
      windowFrames.push(t.frameStarts[e]! + s);
      windowActions.push(t.actionStarts[e]! + s);
      windowRemaining.push(t.lengths[e]! - s);
    }
  }
  return { frames: windowFrames, actions: windowActions, remaining: windowRemaining };
}

/**
 * The typical per-step size of each latent dim, in which the dynamics predict Δz (coefficients:
 * one shared RMS, so the loss stays proportional to pixel MSE; state dims: their own): the net's
 * outputs are ~unit-sized and the loss weighs motion, not the latent's static spread.
 */
function stepScales(latents: Latents, windowFrames: readonly number[]): Float32Array {
  const { z, size: L, coefficients: k } = latents;
  const deltaScale = new Float32Array(L);
  const sq = new Float64Array(L);
  for (let i = 0; i < windowFrames.length; i++) {
    const f = windowFrames[i]!;
    for (let j = 0; j < L; j++) sq[j]! += (z[(f + 1) * L + j]! - z[f * L + j]!) ** 2 / windowFrames.length;
  }
  let coeffSq = 0;
  for (let j = 0; j < k; j++) coeffSq += sq[j]! / k;
  for (let j = 0; j < L; j++) deltaScale[j] = Math.sqrt(Math.max(j < k ? coeffSq : sq[j]!, 1e-12));
  return deltaScale;
}

// ---- the model ----

/**
 * The trained parts as a LatentModel. The heads trained on standardised inputs and targets; this
 * folds the keypoint standardisation into the state head's first layer and the reward scaling into
 * the reward head's last layer, in place, so it runs once per trained set of parts.
 */
export function assembleLatentModel(
  t: Transitions,
  parts: { stem: Stem; keypoints: KeypointFeatures; targets: StateTargets; stateHead: Dense[]; dynamics: TrainedDynamics; actions: ActionNormalisation },
): LatentModel {
  const { stem, keypoints, targets, stateHead, dynamics: d, actions } = parts;
  if (keypoints.keypoints) foldInputStandardisation(stateHead[0]!, stem.size, keypoints.mean, keypoints.std);
  const lastReward = d.reward[d.reward.length - 1]!;
  for (let i = 0; i < lastReward.weights.length; i++) lastReward.weights[i]! *= d.rewardStd;
  lastReward.bias[0] = lastReward.bias[0]! * d.rewardStd + d.rewardMean;
  return {
    inputWidth: t.source.width,
    inputHeight: t.source.height,
    width: t.width,
    height: t.height,
    latent: stem.size + targets.columns.length + keypoints.size,
    actionDim: t.actions.cols,
    coefficients: stem.size,
    stemDown: stem.down,
    stemUp: stem.up,
    stateHead,
    keypoints: keypoints.keypoints,
    keypointMean: keypoints.mean,
    keypointStd: keypoints.std,
    sprites: keypoints.sprites,
    dynamics: d.dynamics,
    dynamicsScale: d.deltaScale,
    reward: d.reward,
    done: d.done,
    inverse: d.inverse,
    actionCenter: actions.center,
    actionScale: actions.scale,
    stateColumns: targets.columns,
    stateMean: targets.mean,
    stateStd: targets.std,
  };
}

function shuffled(n: number, rng: Rng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Makes a layer trained on inputs standardised from column `from` on take the raw inputs instead. */
function foldInputStandardisation(layer: Dense, from: number, mean: Float32Array, std: Float32Array): void {
  const no = layer.outputs;
  for (let j = 0; j < mean.length; j++) {
    const row = (from + j) * no;
    for (let o = 0; o < no; o++) {
      const w = layer.weights[row + o]! / std[j]!;
      layer.weights[row + o] = w;
      layer.bias[o]! -= mean[j]! * w;
    }
  }
}

/** Cosine learning-rate decay to 5 % of the initial rate. */
function cosine(lr: number, epoch: number, epochs: number): number {
  return lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs))));
}
