/**
 * The keypoint model (model.ts) as the four graphs of ../export.ts:
 *   encoder   z = [stem coefficients, state estimate, keypoints]: keypoints see every pixel of the
 *             camera's frames, the stem sees them box-filtered by f (inside the graph)
 *   decoder   sprites drawn at the keypoints, or the stem's inverse on the coefficients
 *   dynamics  z + MLP([z, normalised a]) · scale, reward and done heads on [z, normalised a, z_next]
 *   inverse   MLP([z, z_next - z]), scaled back to environment units
 */
import { boxPoolGraph, partSignatures, type PartName } from '../export.js';
import { OnnxGraph } from '../onnx/graph.js';
import { colourKeypointGraph } from './colour-keypoints.js';
import type { LatentModel } from './model.js';
import { spriteGraph } from './sprites.js';

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
