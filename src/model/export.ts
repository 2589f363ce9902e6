/**
 * The latent world model as four ONNX graphs with named inputs and outputs, so PyTorch/JAX
 * pipelines (and onnxruntime-node here) run exactly what was trained:
 *   encoder   frames [batch, H, W, 3] (rgb in [0,1])      -> z [batch, L] = [stem coefficients, state estimate, keypoints]
 *   decoder   z [batch, L]                                -> frames [batch, H, W, 3] (unclipped; uses the coefficients)
 *   dynamics  z [batch, L], action [batch, A] (env units) -> z_next [batch, L], reward [batch, 1], done [batch, 1] (probability)
 *   inverse   z [batch, L], z_next [batch, L]             -> action [batch, A] (env units)
 * Action normalisation is part of the graphs, so callers feed and receive environment units.
 */
import { colourKeypointGraph } from './keypoints.js';
import type { LatentModel } from './latent-model.js';
import { OnnxGraph } from './onnx/graph.js';

export type PartName = 'encoder' | 'decoder' | 'dynamics' | 'inverse';
export const PART_NAMES: readonly PartName[] = ['encoder', 'decoder', 'dynamics', 'inverse'];

export interface PartSignature {
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
}

export function partSignatures(m: Pick<LatentModel, 'width' | 'height' | 'latent' | 'actionDim'>): Record<PartName, PartSignature> {
  const frame = ['batch', m.height, m.width, 3];
  const z = ['batch', m.latent];
  const a = ['batch', m.actionDim];
  return {
    encoder: { inputs: [{ name: 'frames', shape: frame }], outputs: [{ name: 'z', shape: z }] },
    decoder: { inputs: [{ name: 'z', shape: z }], outputs: [{ name: 'frames', shape: frame }] },
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
  const coefficients = enc.gemm(enc.reshape(frames, [-1, pixels]), m.stemDown, 'stem');
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
  const kept = m.latent > m.coefficients ? dec.slice(zd, [0], [m.coefficients], [1]) : zd;
  dec.output(dec.reshape(dec.gemm(kept, m.stemUp, 'stem'), [-1, m.height, m.width, 3]), 'frames', sig.decoder.outputs[0]!.shape);

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
