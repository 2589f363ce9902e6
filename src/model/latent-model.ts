/**
 * The learned latent world model, trained in TypeScript on the CPU.
 *
 * Why this shape: conv nets train at ~18 transitions/s in tfjs on this machine class, dense layers
 * on compact inputs at thousands per second. So a closed-form stem (PCA of the training frames)
 * turns each frame into P coefficients, and small MLPs do the rest:
 *   encoder   frame -> [stem] -> MLP -> z            (first S latent dims supervised to the true state)
 *   decoder   z -> sprites drawn at the keypoints (sprites.ts), or [stem⁻¹] on the coefficients
 *   dynamics  (z, a) -> z + MLP(z, a), reward and done heads on (z, a)
 *   inverse   (z, z') -> a
 * The stem is a fixed linear layer, so the other parts are plain chains of dense layers (ONNX Gemm).
 * Synthetic data knows the simulator state, and tying latent dims to it gives the latent a
 * physically meaningful, smooth coordinate system in which dynamics are easy to learn.
 */
import { TrajforgeError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { colourKeypointFeatures, fitColourKeypoints, keypointCount, type ColourKeypoints } from './keypoints.js';
import { fitPca } from './pca.js';
import { Adam, apply, backward, clearGrads, createMlp, forward, gradientList, parameterList, zeroGrads, type Dense, type Mlp } from './nn.js';
import { episodeRows, gatherRows, pickRows, poolFrames, varyingColumns, type Transitions } from './transitions.js';
import { fitSprites, renderSprites, type Sprites } from './sprites.js';
import { columnStats } from './linalg.js';

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

/** Everything inference needs, in plain arrays; the ONNX export turns these into graphs. */
export interface LatentModel {
  /** Encoder input: the camera's frames. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** Decoded frames (and the stem's input): the input box-filtered by inputWidth / width. */
  readonly width: number;
  readonly height: number;
  readonly latent: number;
  readonly actionDim: number;
  /** Stem coefficients at the front of z (the rest is the state estimate). */
  readonly coefficients: number;
  /** frame (H·W·3 in [0,1]) -> coefficients. */
  readonly stemDown: Dense;
  /** coefficients -> frame. */
  readonly stemUp: Dense;
  /** coefficients -> normalised state estimate (z after the coefficients). */
  readonly stateHead: Mlp;
  /**
   * Colour keypoints of the full-resolution input frame: the state head's other input, and
   * (standardised) the end of z. Full resolution because a step moves small objects by a fraction
   * of a pixel: inverse dynamics from keypoints reach R² 0.95 at 64x64 and 0.4-0.6 at 32x32.
   */
  readonly keypoints?: ColourKeypoints;
  readonly keypointMean: Float32Array;
  readonly keypointStd: Float32Array;
  /**
   * The decoder, when present: background + one sprite per keypoint drawn at its centroid
   * (sprites.ts). Without it the decoder is the stem's inverse on the coefficients.
   */
  readonly sprites?: Sprites;
  /** [z, normalised a] -> Δz / dynamicsScale. */
  readonly dynamics: Mlp;
  readonly dynamicsScale: Float32Array;
  /** [z, normalised a, z'] -> reward. */
  readonly reward: Mlp;
  /** [z, normalised a, z'] -> P(terminated). */
  readonly done: Mlp;
  /** [z, z' - z] -> normalised a. */
  readonly inverse: Mlp;
  /** a_normalised = (a - actionCenter) / actionScale. */
  readonly actionCenter: Float32Array;
  readonly actionScale: Float32Array;
  /** State columns tied to z[0..S), with their normalisation: z_i ≈ (s_col - mean) / std. */
  readonly stateColumns: readonly number[];
  readonly stateMean: Float32Array;
  readonly stateStd: Float32Array;
}

export interface TrainingLogEntry {
  /** state / dynamics: the keypoint model's phases (epochs); train: the convolutional model's gradient steps. */
  readonly phase: 'state' | 'dynamics' | 'train';
  readonly epoch: number;
  readonly loss: number;
  readonly parts: Record<string, number>;
}

export type TrainingProgress = (entry: TrainingLogEntry & { epochs: number }) => void;

export interface ActionBounds {
  low: Float32Array;
  high: Float32Array;
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

function concatColumns(a: Float32Array, ac: number, b: Float32Array, bc: number, n: number): Float32Array {
  const out = new Float32Array(n * (ac + bc));
  for (let r = 0; r < n; r++) {
    out.set(a.subarray(r * ac, (r + 1) * ac), r * (ac + bc));
    out.set(b.subarray(r * bc, (r + 1) * bc), r * (ac + bc) + ac);
  }
  return out;
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
  const log: TrainingLogEntry[] = [];
  const actionDim = t.actions.cols;

  // --- stem: PCA on a random subset of training frames ---
  const stemRows = [...shuffled(rows.frames.length, rng)].slice(0, Math.min(o.stemFrames, rows.frames.length)).map((i) => rows.frames[i]!);
  const varying = o.stateWeight > 0 ? varyingColumns(t.states, rows.frames).length : 0;
  const kpDims = 3 * Math.max(0, o.keypoints);
  if (o.latent <= varying + kpDims) throw new TrajforgeError('E_MODEL_SHAPE', `latent size ${o.latent} must exceed the ${varying} state and ${kpDims} keypoint dimensions it carries`);
  const k = Math.min(o.latent - varying - kpDims, stemRows.length - 1);
  const stemFrames = pickRows(t.frames, stemRows);
  const pca = fitPca(stemFrames, k, { seed: o.seed });
  // One global scale makes coefficients ~unit-sized while keeping coefficient MSE proportional to pixel MSE.
  const scale = Math.sqrt(pca.explainedVariance.reduce((s, v) => s + v, 0) / k) || 1;
  const stem = stemLayers(pca.mean, pca.components, scale);
  const allFrames = Float32Array.from(t.frames.data);
  const coeffs = apply([stem.down], allFrames, t.frames.rows); // every frame, so row indices carry over
  // Colour keypoints feed the state head (standardised; the scaling is folded into its first layer at the end).
  const src = t.source;
  const srcPixels = src.width * src.height * 3;
  const stemSource = new Uint8Array(stemRows.length * srcPixels);
  stemRows.forEach((r, i) => stemSource.set(src.data.subarray(r * srcPixels, (r + 1) * srcPixels), i * srcPixels));
  const keypoints = o.keypoints > 0 ? fitColourKeypoints(stemSource, stemRows.length, src.width, src.height, o.keypoints, { seed: o.seed, scale: 1 / 255 }) : undefined;
  const kpDim = keypoints ? 3 * o.keypoints : 0;
  const kpRaw = keypoints ? colourKeypointFeatures(keypoints, src.data, t.frames.rows, 1 / 255) : new Float32Array(0);
  if (o.sprites > 0 && !keypoints) throw new TrajforgeError('E_MODEL_SHAPE', 'sprites are drawn at the colour keypoints: set keypoints > 0, or sprites 0 for the PCA decoder');
  // The decoder: sprites fitted to frame changes at the keypoints (before they are standardised).
  const sprites =
    o.sprites > 0
      ? fitSprites(t.frames.data, kpRaw, o.keypoints, t.width, t.height, trainEpisodes.map((e) => ({ start: t.frameStarts[e]!, steps: t.lengths[e]! })), { size: o.sprites, keep: o.spriteCount, seed: o.seed })
      : undefined;
  const kpStats = columnStats(kpRaw, kpDim, rows.frames);
  const kpMean = Float32Array.from(kpStats.mean);
  const kpStd = Float32Array.from(kpStats.std, (v) => v || 1);
  for (let i = 0; i < kpRaw.length; i++) kpRaw[i] = (kpRaw[i]! - kpMean[i % kpDim]!) / kpStd[i % kpDim]!;
  const headInput = keypoints ? concatColumns(coeffs, k, kpRaw, kpDim, t.frames.rows) : coeffs;
  const headWidth = k + kpDim;

  // --- supervised state columns: every state column that varies ---
  const sDim = t.states.cols;
  const sStats = columnStats(t.states.data, sDim, rows.frames);
  const stateColumns = o.stateWeight > 0 ? varyingColumns(t.states, rows.frames) : [];
  const S = stateColumns.length;
  const stateMean = Float32Array.from(stateColumns.map((j) => sStats.mean[j]!));
  const stateStd = Float32Array.from(stateColumns.map((j) => sStats.std[j]!));
  const stateTargets = new Float32Array(t.frames.rows * S);
  for (let r = 0; r < t.frames.rows; r++) {
    stateColumns.forEach((j, c) => (stateTargets[r * S + c] = (t.states.data[r * sDim + j]! - stateMean[c]!) / stateStd[c]!));
  }

  // --- phase 1: the state head, coefficients -> normalised true state ---
  const stateHead = createMlp([headWidth, o.hidden, o.hidden, Math.max(1, S)], 'relu', 'linear', rng);
  const headGrads = zeroGrads(stateHead);
  const headAdam = new Adam(parameterList([stateHead]), o.learningRate, 5);
  const frameRows = Uint32Array.from(rows.frames);
  const steps1 = Math.ceil(frameRows.length / o.batch);
  for (let epoch = 0; S > 0 && epoch < o.stateEpochs; epoch++) {
    headAdam.learningRate = cosine(o.learningRate, epoch, o.stateEpochs);
    const order = shuffled(frameRows.length, rng);
    let stateSum = 0;
    for (let b = 0; b < steps1; b++) {
      const from = b * o.batch;
      const n = Math.min(o.batch, frameRows.length - from);
      const batchRows = Array.from({ length: n }, (_, i) => frameRows[order[from + i]!]!);
      const out = forward(stateHead, gatherRows(headInput, headWidth, batchRows), n);
      const target = gatherRows(stateTargets, S, batchRows);
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

  // z = [stem coefficients, state estimate]: the coefficients decode exactly (linear), the state
  // estimate gives the dynamics the physical coordinates it needs.
  const L = k + S + kpDim;
  const stateEstimate = S > 0 ? apply(stateHead, headInput, t.frames.rows) : new Float32Array(0);
  if (keypoints) foldInputStandardisation(stateHead[0]!, k, kpMean, kpStd);
  // z = [coefficients, state estimate, standardised keypoints].
  const withState = S > 0 ? concatColumns(coeffs, k, stateEstimate, S, t.frames.rows) : coeffs;
  const z = kpDim > 0 ? concatColumns(withState, k + S, kpRaw, kpDim, t.frames.rows) : withState;

  // --- phase 2: dynamics, reward/done heads, inverse on the (now fixed) latents ---
  const center = new Float32Array(actionDim);
  const halfRange = new Float32Array(actionDim);
  for (let j = 0; j < actionDim; j++) {
    const lo = bounds.low[j]!;
    const hi = bounds.high[j]!;
    const finite = Number.isFinite(lo) && Number.isFinite(hi) && hi > lo;
    center[j] = finite ? (lo + hi) / 2 : 0;
    halfRange[j] = finite ? (hi - lo) / 2 : 1;
  }
  const actionsN = new Float32Array(t.actions.rows * actionDim);
  for (let r = 0; r < t.actions.rows; r++) {
    for (let j = 0; j < actionDim; j++) actionsN[r * actionDim + j] = (t.actions.data[r * actionDim + j]! - center[j]!) / halfRange[j]!;
  }
  const dynamics = createMlp([L + actionDim, o.hidden, o.hidden, L], 'relu', 'linear', rng);
  // Heads see (z, a, predicted z'): reward and termination depend on where the step ends up.
  const reward = createMlp([2 * L + actionDim, 64, 1], 'relu', 'linear', rng);
  const done = createMlp([2 * L + actionDim, 64, 1], 'relu', 'sigmoid', rng);
  // The reward head learns standardised rewards; the scaling is folded into its last layer at the end.
  const rewardStats = columnStats(t.rewards, 1, rows.actions);
  const rewardMean = rewardStats.mean[0]!;
  const rewardStd = rewardStats.std[0]! || 1;
  const inverse = createMlp([2 * L, o.hidden, o.hidden, actionDim], 'relu', 'linear', rng);
  const dynGrads = zeroGrads(dynamics);
  const rewGrads = zeroGrads(reward);
  const doneGrads = zeroGrads(done);
  const invGrads = zeroGrads(inverse);
  const dynAdam = new Adam(parameterList([dynamics, reward, done, inverse]), o.learningRate, 5);

  // Windows (frame row, action row) that have rolloutSteps real steps ahead within the episode.
  const K = Math.max(1, o.rolloutSteps);
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
  // The dynamics predict Δz in units of its typical per-step size (coefficients: one shared RMS,
  // so the loss stays proportional to pixel MSE; state dims: their own): the net's outputs are
  // ~unit-sized and the loss weighs motion, not the latent's static spread.
  const deltaScale = new Float32Array(L);
  {
    const sq = new Float64Array(L);
    for (let i = 0; i < windowFrames.length; i++) {
      const f = windowFrames[i]!;
      for (let j = 0; j < L; j++) sq[j]! += (z[(f + 1) * L + j]! - z[f * L + j]!) ** 2 / windowFrames.length;
    }
    let coeffSq = 0;
    for (let j = 0; j < k; j++) coeffSq += sq[j]! / k;
    for (let j = 0; j < L; j++) deltaScale[j] = Math.sqrt(Math.max(j < k ? coeffSq : sq[j]!, 1e-12));
  }
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

  const lastReward = reward[reward.length - 1]!;
  for (let i = 0; i < lastReward.weights.length; i++) lastReward.weights[i]! *= rewardStd;
  lastReward.bias[0] = lastReward.bias[0]! * rewardStd + rewardMean;

  const model: LatentModel = {
    inputWidth: src.width,
    inputHeight: src.height,
    width: t.width,
    height: t.height,
    latent: L,
    actionDim,
    coefficients: k,
    stemDown: stem.down,
    stemUp: stem.up,
    stateHead,
    keypoints,
    keypointMean: kpMean,
    keypointStd: kpStd,
    sprites,
    dynamics,
    dynamicsScale: deltaScale,
    reward,
    done,
    inverse,
    actionCenter: center,
    actionScale: halfRange,
    stateColumns,
    stateMean,
    stateStd,
  };
  return { model, log };
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

// ---- inference in TypeScript (the training library's reference; deployment runs the ONNX graphs) ----

/** frames: n encoder inputs (inputHeight × inputWidth × 3 in [0,1]). */
export function latentEncode(model: LatentModel, frames: Float32Array, n: number): Float32Array {
  const k = model.coefficients;
  const c = apply([model.stemDown], poolFrames(frames, n, model.inputWidth, model.inputHeight, model.inputWidth / model.width), n);
  const kp = model.keypoints;
  const kpDim = kp ? 3 * keypointCount(kp) : 0;
  const S = model.latent - k - kpDim;
  const raw = kp ? colourKeypointFeatures(kp, frames, n) : new Float32Array(0);
  const withState = S > 0 ? concatColumns(c, k, apply(model.stateHead, kp ? concatColumns(c, k, raw, kpDim, n) : c, n), S, n) : c;
  if (!kp) return withState;
  for (let i = 0; i < raw.length; i++) raw[i] = (raw[i]! - model.keypointMean[i % kpDim]!) / model.keypointStd[i % kpDim]!;
  return concatColumns(withState, k + S, raw, kpDim, n);
}

export function latentDecode(model: LatentModel, z: Float32Array, n: number): Float32Array {
  if (model.sprites) return renderSprites(model.sprites, latentKeypoints(model, z, n), n);
  const k = model.coefficients;
  const c = new Float32Array(n * k);
  for (let r = 0; r < n; r++) c.set(z.subarray(r * model.latent, r * model.latent + k), r * k);
  return apply([model.stemUp], c, n);
}

/** The raw colour-keypoint features carried (standardised) at the end of z. */
function latentKeypoints(model: LatentModel, z: Float32Array, n: number): Float32Array {
  const kpDim = model.keypointMean.length;
  const from = model.latent - kpDim;
  const out = new Float32Array(n * kpDim);
  for (let r = 0; r < n; r++) for (let j = 0; j < kpDim; j++) out[r * kpDim + j] = z[r * model.latent + from + j]! * model.keypointStd[j]! + model.keypointMean[j]!;
  return out;
}

export function normaliseActions(model: LatentModel, actions: Float32Array, n: number): Float32Array {
  const A = model.actionDim;
  const out = new Float32Array(n * A);
  for (let i = 0; i < n * A; i++) out[i] = (actions[i]! - model.actionCenter[i % A]!) / model.actionScale[i % A]!;
  return out;
}

export function latentStep(model: LatentModel, z: Float32Array, actions: Float32Array, n: number): { next: Float32Array; reward: Float32Array; done: Float32Array } {
  const input = concatColumns(z, model.latent, normaliseActions(model, actions, n), model.actionDim, n);
  const delta = apply(model.dynamics, input, n);
  for (let i = 0; i < delta.length; i++) delta[i] = z[i]! + delta[i]! * model.dynamicsScale[i % model.latent]!;
  const headIn = concatColumns(input, model.latent + model.actionDim, delta, model.latent, n);
  return { next: delta, reward: apply(model.reward, headIn, n), done: apply(model.done, headIn, n) };
}

export function latentInverse(model: LatentModel, z: Float32Array, zNext: Float32Array, n: number): Float32Array {
  const L = model.latent;
  const input = new Float32Array(n * 2 * L);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < L; j++) {
      input[r * 2 * L + j] = z[r * L + j]!;
      input[r * 2 * L + L + j] = zNext[r * L + j]! - z[r * L + j]!;
    }
  }
  const a = apply(model.inverse, input, n);
  const A = model.actionDim;
  for (let i = 0; i < a.length; i++) a[i] = a[i]! * model.actionScale[i % A]! + model.actionCenter[i % A]!;
  return a;
}

/** The trained model behind the evaluation interface, computed in TypeScript (tests compare it with ONNX). */
export function latentModelInTypeScript(model: LatentModel) {
  return {
    latent: model.latent,
    encode: async (frames: Float32Array, n: number) => latentEncode(model, frames, n),
    decode: async (z: Float32Array, n: number) => latentDecode(model, z, n),
    step: async (z: Float32Array, a: Float32Array, n: number) => latentStep(model, z, a, n),
    inverse: async (z: Float32Array, zNext: Float32Array, n: number) => latentInverse(model, z, zNext, n),
  };
}
