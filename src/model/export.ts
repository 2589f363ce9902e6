/**
 * The latent world model as four ONNX graphs with named inputs and outputs, so PyTorch/JAX
 * pipelines (and onnxruntime-node here) run exactly what was trained:
 *   encoder   frames [batch, H, W, 3] (rgb in [0,1])      -> z [batch, L] = [stem coefficients, state estimate, keypoints]
 *   decoder   z [batch, L]                                -> frames [batch, H/f, W/f, 3] (unclipped; sprites at the keypoints, or the stem's inverse)
 * The encoder takes the camera's frames: keypoints see every pixel, the stem sees them box-filtered
 * by f (inside the graph), and the decoder predicts at that reduced size.
 *   dynamics  z [batch, L], action [batch, A] (env units) -> z_next [batch, L], reward [batch, 1], done [batch, 1] (probability)
 *   inverse   z [batch, L], z_next [batch, L]             -> action [batch, A] (env units)
 * Action normalisation is part of the graphs, so callers feed and receive environment units.
 */
import { colourKeypointGraph } from './keypoints.js';
import type { LatentModel } from './latent-model.js';
import type { LinearHeads, LinearWorldModel } from './linear-baseline.js';
import type { Dense } from './nn.js';
import { OnnxGraph } from './onnx/graph.js';
import { spriteGraph } from './sprites.js';

export type PartName = 'encoder' | 'decoder' | 'dynamics' | 'inverse';
export const PART_NAMES: readonly PartName[] = ['encoder', 'decoder', 'dynamics', 'inverse'];

export interface PartSignature {
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
}

/** The card's `parts` entry: one file per part with its declared signature. */
export function cardParts(m: Parameters<typeof partSignatures>[0]): Record<PartName, PartSignature & { file: string }> {
  const sig = partSignatures(m);
  return Object.fromEntries(PART_NAMES.map((p) => [p, { file: `${p}.onnx`, inputs: sig[p].inputs, outputs: sig[p].outputs }])) as Record<PartName, PartSignature & { file: string }>;
}

export function partSignatures(m: Pick<LatentModel, 'inputWidth' | 'inputHeight' | 'width' | 'height' | 'latent' | 'actionDim'>): Record<PartName, PartSignature> {
  const z = ['batch', m.latent];
  const a = ['batch', m.actionDim];
  return {
    encoder: { inputs: [{ name: 'frames', shape: ['batch', m.inputHeight, m.inputWidth, 3] }], outputs: [{ name: 'z', shape: z }] },
    decoder: { inputs: [{ name: 'z', shape: z }], outputs: [{ name: 'frames', shape: ['batch', m.height, m.width, 3] }] },
    dynamics: {
      inputs: [
        { name: 'z', shape: z },
        { name: 'action', shape: a },
      ],
      outputs: [
        { name: 'z_next', shape: z },
        { name: 'reward', shape: ['batch', 1] },
        { name: 'done', shape: ['batch', 1] },
      ],
    },
    inverse: {
      inputs: [
        { name: 'z', shape: z },
        { name: 'z_next', shape: z },
      ],
      outputs: [{ name: 'action', shape: a }],
    },
  };
}

export function exportLatentModel(m: LatentModel): Record<PartName, Uint8Array> {
  const sig = partSignatures(m);
  const pixels = m.width * m.height * 3;

  const enc = new OnnxGraph('trajforge_encoder');
  const frames = enc.input('frames', sig.encoder.inputs[0]!.shape);
  const coefficients = enc.gemm(enc.reshape(boxPoolGraph(enc, frames, m), [-1, pixels]), m.stemDown, 'stem');
  const kpDim = m.keypoints ? m.keypointMean.length : 0;
  const hasState = m.latent > m.coefficients + kpDim;
  const keypoints = m.keypoints ? colourKeypointGraph(enc, frames, m.keypoints) : undefined;
  const parts = [coefficients];
  if (hasState) parts.push(enc.mlp(keypoints ? enc.concat([coefficients, keypoints], 1) : coefficients, m.stateHead, 'state'));
  if (keypoints) {
    const mean = enc.initializer('keypoints.mean', m.keypointMean, [kpDim]);
    const invStd = enc.initializer('keypoints.inverse_std', m.keypointStd.map((v) => 1 / v), [kpDim]);
    parts.push(enc.mul(enc.sub(keypoints, mean), invStd));
  }
  const zEnc = parts.length > 1 ? enc.concat(parts, 1) : coefficients;
  enc.output(zEnc, 'z', sig.encoder.outputs[0]!.shape);

  const dec = new OnnxGraph('trajforge_decoder');
  const zd = dec.input('z', sig.decoder.inputs[0]!.shape);
  if (m.sprites) {
    const kp = dec.slice(zd, [m.latent - kpDim], [m.latent], [1]);
    const raw = dec.add(dec.mul(kp, dec.initializer('keypoints.std', m.keypointStd, [kpDim])), dec.initializer('keypoints.mean', m.keypointMean, [kpDim]));
    dec.output(spriteGraph(dec, raw, m.sprites), 'frames', sig.decoder.outputs[0]!.shape);
  } else {
    const kept = m.latent > m.coefficients ? dec.slice(zd, [0], [m.coefficients], [1]) : zd;
    dec.output(dec.reshape(dec.gemm(kept, m.stemUp, 'stem'), [-1, m.height, m.width, 3]), 'frames', sig.decoder.outputs[0]!.shape);
  }

  const dyn = new OnnxGraph('trajforge_dynamics');
  const z = dyn.input('z', sig.dynamics.inputs[0]!.shape);
  const action = dyn.input('action', sig.dynamics.inputs[1]!.shape);
  const center = dyn.initializer('action_center', m.actionCenter, [m.actionDim]);
  const invScale = dyn.initializer('action_inverse_scale', m.actionScale.map((s) => 1 / s), [m.actionDim]);
  const features = dyn.concat([z, dyn.mul(dyn.sub(action, center), invScale)], 1);
  const deltaScale = dyn.initializer('delta_scale', m.dynamicsScale, [m.latent]);
  const zNext = dyn.add(z, dyn.mul(dyn.mlp(features, m.dynamics, 'dynamics'), deltaScale));
  const headFeatures = dyn.concat([features, zNext], 1);
  dyn.output(zNext, 'z_next', sig.dynamics.outputs[0]!.shape);
  dyn.output(dyn.mlp(headFeatures, m.reward, 'reward'), 'reward', sig.dynamics.outputs[1]!.shape);
  dyn.output(dyn.mlp(headFeatures, m.done, 'done'), 'done', sig.dynamics.outputs[2]!.shape);

  const inv = new OnnxGraph('trajforge_inverse');
  const zi = inv.input('z', sig.inverse.inputs[0]!.shape);
  const zn = inv.input('z_next', sig.inverse.inputs[1]!.shape);
  const normalised = inv.mlp(inv.concat([zi, inv.sub(zn, zi)], 1), m.inverse, 'inverse');
  const scale = inv.initializer('action_scale', m.actionScale, [m.actionDim]);
  const offset = inv.initializer('action_center', m.actionCenter, [m.actionDim]);
  inv.output(inv.add(inv.mul(normalised, scale), offset), 'action', sig.inverse.outputs[0]!.shape);

  return { encoder: enc.toBytes(), decoder: dec.toBytes(), dynamics: dyn.toBytes(), inverse: inv.toBytes() };
}

/** frames [N, H, W, 3] box-filtered to [N, H/f, W/f, 3] (f = inputWidth / width): a Reshape and a ReduceSum. */
function boxPoolGraph(g: OnnxGraph, frames: string, m: Pick<LatentModel, 'inputWidth' | 'inputHeight' | 'width' | 'height'>): string {
  const f = m.inputWidth / m.width;
  if (f === 1) return frames;
  const blocks = g.reshape(frames, [-1, m.height, f, m.width, f, 3]);
  const sum = g.node('ReduceSum', [blocks, g.int64Initializer('pool.axes', [2, 4], [2])], { keepdims: { int: 0 } });
  return g.mul(sum, g.initializer('pool.inverse_area', Float32Array.of(1 / (f * f)), []));
}

/** Float64 matrix -> float32 Dense (weights rows × cols as inputs × outputs). */
function affineLayer(weights: { rows: number; cols: number; data: Float64Array }, bias: ArrayLike<number>): Dense {
  return { inputs: weights.rows, outputs: weights.cols, weights: Float32Array.from(weights.data), bias: Float32Array.from(bias), activation: 'linear' };
}

/** [x, y, x[:, :r] ⊗ y] as ONNX ops (z-major, like bilinearFeatures). */
function bilinearGraph(g: OnnxGraph, x: string, y: string, r: number, ySize: number): string {
  const head = g.reshape(g.slice(x, [0], [r], [1]), [-1, r, 1]);
  const product = g.reshape(g.mul(head, g.reshape(y, [-1, 1, ySize])), [-1, r * ySize]);
  return g.concat([x, y, product], 1);
}

/**
 * The PCA + bilinear-ridge baseline as the same four graphs (the fast `--model linear`): PCA as
 * Gemm, dynamics and inverse as Gemm on bilinear features, ridge reward/done heads (done clipped
 * to [0, 1]).
 */
export function exportLinearModel(m: LinearWorldModel, heads: LinearHeads, actionDim: number): Record<PartName, Uint8Array> {
  const k = m.pca.components.rows;
  const d = m.pca.components.cols;
  const sig = partSignatures({ inputWidth: m.inputWidth, inputHeight: m.inputHeight, width: m.width, height: m.height, latent: k, actionDim });
  const transpose = { rows: d, cols: k, data: new Float64Array(d * k) };
  const downBias = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) {
      transpose.data[i * k + c] = m.pca.components.data[c * d + i]!;
      downBias[c]! -= m.pca.components.data[c * d + i]! * m.pca.mean[i]!;
    }
  }
  const enc = new OnnxGraph('trajforge_linear_encoder');
  const pooled = boxPoolGraph(enc, enc.input('frames', sig.encoder.inputs[0]!.shape), m);
  enc.output(enc.gemm(enc.reshape(pooled, [-1, d]), affineLayer(transpose, downBias), 'pca'), 'z', sig.encoder.outputs[0]!.shape);

  const dec = new OnnxGraph('trajforge_linear_decoder');
  const zd = dec.input('z', sig.decoder.inputs[0]!.shape);
  dec.output(dec.reshape(dec.gemm(zd, affineLayer(m.pca.components, m.pca.mean), 'pca'), [-1, m.height, m.width, 3]), 'frames', sig.decoder.outputs[0]!.shape);

  const dyn = new OnnxGraph('trajforge_linear_dynamics');
  const z = dyn.input('z', sig.dynamics.inputs[0]!.shape);
  const action = dyn.input('action', sig.dynamics.inputs[1]!.shape);
  const features = bilinearGraph(dyn, z, action, k, actionDim);
  dyn.output(dyn.add(z, dyn.gemm(features, affineLayer(m.dynamics.forward.weights, m.dynamics.forward.bias), 'forward')), 'z_next', sig.dynamics.outputs[0]!.shape);
  dyn.output(dyn.gemm(features, affineLayer(heads.reward.weights, heads.reward.bias), 'reward'), 'reward', sig.dynamics.outputs[1]!.shape);
  dyn.output(dyn.clip(dyn.gemm(features, affineLayer(heads.done.weights, heads.done.bias), 'done'), 0, 1), 'done', sig.dynamics.outputs[2]!.shape);

  const inv = new OnnxGraph('trajforge_linear_inverse');
  const zi = inv.input('z', sig.inverse.inputs[0]!.shape);
  const delta = inv.sub(inv.input('z_next', sig.inverse.inputs[1]!.shape), zi);
  const invFeatures = bilinearGraph(inv, zi, delta, Math.min(k, m.dynamics.inverseProductTerms), k);
  inv.output(inv.gemm(invFeatures, affineLayer(m.dynamics.inverse.weights, m.dynamics.inverse.bias), 'inverse'), 'action', sig.inverse.outputs[0]!.shape);

  return { encoder: enc.toBytes(), decoder: dec.toBytes(), dynamics: dyn.toBytes(), inverse: inv.toBytes() };
}

/**
 * A fragment for the decoder graph (appended with OnnxGraph.appendTo): a second output
 * rgb = round(255 · (frames + offset)) saturated to uint8 (QuantizeLinear, half to even), with an
 * `offset` input. With offset = context − decode(z_context) this is residual decoding straight to
 * video bytes. Per-pixel loops in JS cost ~7 ns a value; inside the decoder's session the float
 * frames never leave onnxruntime (measured 7.1 against 10.7 µs a 32x32 frame as a second graph).
 */
export function decoderBytesFragment(width: number, height: number, framesOutput = 'frames'): OnnxGraph {
  const g = new OnnxGraph('trajforge_rgb_bytes', 'rgb_bytes.');
  const dims = ['batch', height, width, 3];
  const sum = g.add(g.external(framesOutput), g.input('offset', dims));
  g.output(g.node('QuantizeLinear', [sum, g.initializer('rgb_scale', Float32Array.of(1 / 255), [])]), 'rgb', dims, 'uint8');
  return g;
}
