/**
 * One training step of the convolutional world model as a single ONNX graph: forward pass over a
 * batch of short sequences, every loss, the backward pass and Adam, all inside onnxruntime.
 *
 * A batch is B sequences of K + 1 frames x₀..x_K with the K actions between them. Losses:
 *   recon    D(E(x₀)) vs x₀                                       (pixels)
 *   predict  D(ẑ_k) − D(z₀) vs x_k − x₀, ẑ rolled out open loop   (pixels, the residual form eval
 *            and dream decode with: the decoder supplies what moves)
 *   latent   ẑ_k vs E(x_k), the target without gradient          (keeps long rollouts on the manifold)
 *   reward / done heads of each rollout step; inverse a_k from (z_k, z_k+1); state from z_k.
 * Pixel losses are weighted by the pixel count (a per-frame sum, as DreamerV3's image
 * log-likelihood), the others by their width, so no term depends on the frame size. Within a
 * frame, `pixelWeights` (mean 1) weight each pixel by how much it varies over the data: small
 * moving objects on a static background would otherwise be a rounding error of the loss.
 */
import { Tape } from '../onnx/autodiff.js';
import { decoder, dynamics, encoder, encoderFromParts, inverse, keypointsOf, paramSpecs, stateHead, type ConvShape } from './network.js';

export interface LossWeights {
  recon: number;
  predict: number;
  latent: number;
  reward: number;
  done: number;
  inverse: number;
  state: number;
}

/**
 * Inverse dynamics and the state target weigh more than the rest: their gradient is what teaches
 * the encoder where small controlled objects are (PushCube, 500 steps: inverse loss 0.22 with
 * these weights, 0.37 with all weights 1), which the pixel terms alone learn slowly.
 */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = { recon: 1, predict: 1, latent: 1, reward: 1, done: 1, inverse: 50, state: 10 };

export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1000 };

/** The losses the step reports, in this order (graph outputs `loss.<name>`). */
export const LOSS_NAMES = ['total', 'recon', 'predict', 'latent', 'reward', 'done', 'inverse', 'state'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

export interface TrainGraph {
  bytes: Uint8Array;
  /** Loss terms present (without actions there is no inverse loss, without states no state loss). */
  losses: LossName[];
}

/**
 * Shapes are static (B sequences of K steps): one graph per training run. Graph inputs: `frames`
 * [B·(K+1), 3, h, w] (NCHW; with context 2, [B·(K+2), ...]: each sequence starts with the frame
 * before x₀, x₀ itself at an episode's start), `actions` [B·K, A] (normalised; absent when A = 0),
 * `rewards` and `dones` [B·K, 1], `states` [B·(K+1), S] (absent when S = 0), `lr`, and every
 * weight with its Adam moments. Outputs: updated weights and moments, `grad_norm`, the losses.
 * With `step` 'gradients' the graph stops at the gradients (outputs `grad.<weight>` and the
 * losses; no moments, no `lr`): a shard of a batch, whose gradients `adamGraph` averages.
 */
export function trainGraph(shape: ConvShape, batch: number, rollout: number, weights: LossWeights = DEFAULT_LOSS_WEIGHTS, pixelWeights?: Float32Array, step: 'adam' | 'gradients' = 'adam'): TrainGraph {
  const t = new Tape('trajforge_conv_train_step');
  const K = rollout;
  const B = batch;
  const { width: W, height: H, latent: L, actions: A, states: S } = shape;
  const pixels = W * H * 3;
  const C = shape.context;
  const input = t.input('frames', [B * (K + C), 3, H, W]);
  const actions = A > 0 ? t.input('actions', [B * K, A]) : null;
  const rewards = t.input('rewards', [B * K, 1]);
  const dones = t.input('dones', [B * K, 1]);
  const states = S > 0 ? t.input('states', [B * (K + 1), S]) : null;
  const params = new Map<string, string>();
  const w = (name: string) => params.get(name)!;
  for (const p of paramSpecs(shape)) params.set(p.name, t.param(p.name, p.dims));

  let frames = input;
  let z: string; // [B(K+1), L]
  if (C === 1) z = encoder(t, frames, null, shape, w);
  else {
    // Each frame's predecessor is the row before it in its sequence: the keypoints of all K + 2
    // rows once, then every row but the first paired with the one before.
    const seq = (x: string, width: number[]) => t.reshape(x, [B, K + 2, ...width], [B, K + 2, ...width]);
    const rows = (x: string, from: number, width: number[]) => t.reshape(t.slice(x, from, from + K + 1, 1), [B * (K + 1), ...width], [B * (K + 1), ...width]);
    const image = [3, H, W];
    const all = seq(input, image);
    frames = rows(all, 1, image);
    const previous = rows(all, 0, image);
    let kp: { current: string; previous: string } | null = null;
    if (shape.keypoints > 0) {
      const kpAll = seq(keypointsOf(t, input, shape, w), [2 * shape.keypoints]);
      kp = { current: rows(kpAll, 1, [2 * shape.keypoints]), previous: rows(kpAll, 0, [2 * shape.keypoints]) };
    }
    z = encoderFromParts(t, frames, previous, kp, shape, w);
  }
  const zSeq = t.reshape(z, [-1, K + 1, L], [B, K + 1, L]);
  const zAt = (k: number) => t.reshape(t.slice(zSeq, k, k + 1, 1), [-1, L], [B, L]);
  const aSeq = actions ? t.reshape(actions, [-1, K, A], [B, K, A]) : null;

  // Open-loop rollout from z₀ under the true actions.
  const z0 = zAt(0);
  let zHat = z0;
  const predicted: string[] = [];
  const rewardHat: string[] = [];
  const doneHat: string[] = [];
  for (let k = 0; k < K; k++) {
    const a = aSeq ? t.reshape(t.slice(aSeq, k, k + 1, 1), [-1, A], [B, A]) : null;
    const step = dynamics(t, zHat, a, shape, w);
    zHat = step.next;
    predicted.push(t.reshape(zHat, [-1, 1, L], [B, 1, L]));
    rewardHat.push(step.reward);
    doneHat.push(step.doneLogit);
  }
  const zPred = t.reshape(t.concat(predicted, 1), [-1, L], [B * K, L]); // [BK, L], sample-major
  const zTarget = t.stopGradient(t.reshape(t.slice(zSeq, 1, K + 1, 1), [-1, L], [B * K, L]));

  // One decoder pass over [z₀ (B rows); ẑ₁..ẑ_K (BK rows)]: bigger kernels than two passes.
  const decoded = decoder(t, t.concat([z0, zPred], 0), shape, w);
  const dFirst = t.slice(decoded, 0, B, 0);
  const dPred = t.slice(decoded, B, B + B * K, 0);
  const framesSeq = t.reshape(frames, [B, K + 1, 3, H, W], [B, K + 1, 3, H, W]);
  const x0 = t.reshape(t.slice(framesSeq, 0, 1, 1), [B, 3, H, W], [B, 3, H, W]);
  const later = t.reshape(t.slice(framesSeq, 1, K + 1, 1), [B * K, 3, H, W], [B * K, 3, H, W]);
  /** [B, 3, H, W] repeated K times per sample: [BK, 3, H, W], sample-major like the rollout. */
  const tiled = (x: string) => {
    const one = t.reshape(x, [B, 1, 3, H, W], [B, 1, 3, H, W]);
    return t.reshape(K === 1 ? one : t.concat(Array.from({ length: K }, () => one), 1), [B * K, 3, H, W], [B * K, 3, H, W]);
  };
  const importance = pixelWeights ? t.constant(pixelWeights, [1, 1, H, W]) : undefined;
  // Residual pixel prediction: D(ẑ_k) − D(z₀) against x_k − x₀.
  const predictLoss = t.mse(t.sub(dPred, tiled(dFirst)), t.sub(later, tiled(x0)), importance);
  const reconLoss = t.mse(dFirst, x0, importance);

  const perStep = (xs: string[]) => t.reshape(t.concat(xs, 1), [-1, 1], [B * K, 1]);
  const losses: [LossName, string, number][] = [
    ['recon', reconLoss, weights.recon * pixels],
    ['predict', predictLoss, weights.predict * pixels],
    ['latent', t.mse(zPred, zTarget), weights.latent * L],
    ['reward', t.mse(perStep(rewardHat), rewards), weights.reward],
    ['done', t.bceWithLogits(perStep(doneHat), dones), weights.done],
  ];
  if (actions) {
    const zFrom = t.reshape(t.slice(zSeq, 0, K, 1), [-1, L], [B * K, L]);
    const zTo = t.reshape(t.slice(zSeq, 1, K + 1, 1), [-1, L], [B * K, L]);
    losses.push(['inverse', t.mse(inverse(t, zFrom, zTo, w), actions), weights.inverse * A]);
  }
  if (states) losses.push(['state', t.mse(stateHead(t, z, w), states), weights.state * S]);

  const total = t.weightedSum(losses.map(([, l, k]) => [l, k] as const));
  const grads = t.gradients(total);
  if (step === 'adam') t.adam(grads, ADAM);
  else for (const [p, g] of grads) t.graph.output(g, `grad.${p}`, t.params.get(p)!);
  t.graph.output(total, 'loss.total', []);
  for (const [name, l] of losses) t.graph.output(l, `loss.${name}`, []);
  return { bytes: t.graph.toBytes(), losses: ['total', ...losses.map(([n]) => n)] };
}

/**
 * The Adam step over the gradients of `shards` equal shards of a batch: inputs every weight,
 * `<weight>.m`, `<weight>.v`, `lr` and `grad.<weight>.<i>` for i < shards; the same outputs as
 * the one-graph step. Each shard's losses are means over its sequences, so the mean of the
 * shards' gradients (summed in shard order: the same numbers on every run) is the batch's.
 */
export function adamGraph(shape: ConvShape, shards: number): Uint8Array {
  const t = new Tape('trajforge_conv_adam_step');
  const grads = new Map<string, string>();
  const mean = t.constant(Float32Array.of(1 / shards), []);
  for (const p of paramSpecs(shape)) {
    t.param(p.name, p.dims);
    let sum = t.input(`grad.${p.name}.0`, p.dims);
    for (let i = 1; i < shards; i++) sum = t.graph.add(sum, t.input(`grad.${p.name}.${i}`, p.dims));
    grads.set(p.name, t.graph.mul(sum, mean));
  }
  t.adam(grads, ADAM);
  return t.graph.toBytes();
}
