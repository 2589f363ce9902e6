/** The PCA + bilinear-ridge baseline (model.ts) as the four graphs of ../export.ts. */
import { boxPoolGraph, partSignatures, type PartName } from '../export.js';
import type { Dense } from '../nn.js';
import { OnnxGraph } from '../onnx/graph.js';
import type { LinearHeads, LinearWorldModel } from './model.js';

/** Float64 matrix -> float32 Dense (weights rows × cols as inputs × outputs). */
function affineLayer(weights: { rows: number; cols: number; data: Float64Array }, bias: ArrayLike<number>): Dense {
  return { inputs: weights.rows, outputs: weights.cols, weights: Float32Array.from(weights.data), bias: Float32Array.from(bias), activation: 'linear' };
}

/** [x, y, x[:, :r] ⊗ y] as ONNX ops (z-major, like bilinearFeatures). */
function bilinearGraph(g: OnnxGraph, x: string, y: string, r: number, ySize: number): string {
  // Without actions the features are z alone (a reshape to a zero-width row is not valid ONNX).
  if (ySize === 0) return x;
  const head = g.reshape(g.slice(x, [0], [r], [1]), [-1, r, 1]);
  const product = g.reshape(g.mul(head, g.reshape(y, [-1, 1, ySize])), [-1, r * ySize]);
  return g.concat([x, y, product], 1);
}

/**
 * The PCA + bilinear-ridge baseline as the same four graphs (the fast `--arch linear`): PCA as
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
