/**
 * The keypoint world model (`--arch keypoints`): what a trained model holds and how it runs in
 * TypeScript (train.ts fits it, export.ts writes it as ONNX graphs).
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
import type { PartShape } from '../export.js';
import { apply, type Dense, type Mlp } from '../nn.js';
import { poolFrames } from '../transitions.js';
import { colourKeypointFeatures, keypointCount, type ColourKeypoints } from './colour-keypoints.js';
import { renderSprites, type Sprites } from './sprites.js';

/** Everything inference needs, in plain arrays; the ONNX export turns these into graphs. */
export interface LatentModel extends PartShape {
  /* Decoded frames (width × height, the stem's input) are the input box-filtered by inputWidth / width. */
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

/** Row-wise [a, b]: n rows of ac columns of a, then bc columns of b. */
export function concatColumns(a: Float32Array, ac: number, b: Float32Array, bc: number, n: number): Float32Array {
  const out = new Float32Array(n * (ac + bc));
  for (let r = 0; r < n; r++) {
    out.set(a.subarray(r * ac, (r + 1) * ac), r * (ac + bc));
    out.set(b.subarray(r * bc, (r + 1) * bc), r * (ac + bc) + ac);
  }
  return out;
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
