/**
 * The convolutional model as the four inference graphs every trajforge world model has (see
 * ../export.ts for the contract): the networks of network.ts with the trained weights as
 * constants, wrapped in what callers expect: NHWC frames in [0, 1] at the camera's size,
 * actions, rewards and done probabilities in environment units.
 */
import { Tape } from '../onnx/autodiff.js';
import { partSignatures, PREVIOUS_INDEX, type PartName } from '../export.js';
import { decoder, dynamics, encoderFromParts, inverse, keypointsOf, paramSpecs, type Weights } from './network.js';
import { resizeNode } from './resize.js';
import type { ConvModel } from './train.js';

export function exportConvModel(m: ConvModel): Record<PartName, Uint8Array> {
  const { shape, input } = m;
  const work = { width: shape.width, height: shape.height };
  const sig = partSignatures({ inputWidth: input.width, inputHeight: input.height, width: input.width, height: input.height, latent: shape.latent, actionDim: shape.actions, context: shape.context });
  const A = shape.actions;
  const dims = new Map(paramSpecs(shape).map((p) => [p.name, p.dims]));
  /** The trained weights as constants of t's graph, each added on first use. */
  const weightsOf = (t: Tape): Weights => {
    const names = new Map<string, string>();
    return (name) => {
      let n = names.get(name);
      if (n === undefined) {
        n = t.declare(t.graph.initializer(name, m.params.get(name)!, dims.get(name)!), dims.get(name)!);
        names.set(name, n);
      }
      return n;
    };
  };

  const enc = new Tape('trajforge_conv_encoder');
  /** An NHWC camera-size input as the NCHW working-size frames the networks take. */
  const working = (name: string, index: number) => {
    const nchw = enc.graph.node('Transpose', [enc.input(name, sig.encoder.inputs[index]!.shape)], { perm: { ints: [0, 3, 1, 2] } });
    return enc.declare(resizeNode(enc.graph, enc.declare(nchw, ['batch', 3, input.height, input.width]), work, input), ['batch', 3, work.height, work.width]);
  };
  const frames = working('frames', 0);
  const we = weightsOf(enc);
  const current = shape.keypoints > 0 ? keypointsOf(enc, frames, shape, we) : null;
  let latent: string;
  if (shape.context > 1) {
    // Each frame's keypoints are computed once and gathered for the frame that follows it.
    const index = enc.graph.input(PREVIOUS_INDEX, sig.encoder.inputs[1]!.shape, 'int64');
    const gather = (x: string) => enc.declare(enc.graph.node('Gather', [x, index], { axis: { int: 0 } }), enc.shape(x));
    latent = encoderFromParts(enc, frames, gather(frames), current === null ? null : { current, previous: gather(current) }, shape, we);
  } else {
    latent = encoderFromParts(enc, frames, null, current === null ? null : { current, previous: null }, shape, we);
  }
  enc.graph.output(latent, 'z', sig.encoder.outputs[0]!.shape);

  const dec = new Tape('trajforge_conv_decoder');
  const zd = dec.input('z', sig.decoder.inputs[0]!.shape);
  const decoded = resizeNode(dec.graph, decoder(dec, zd, shape, weightsOf(dec)), input, work);
  dec.graph.output(dec.graph.node('Transpose', [decoded], { perm: { ints: [0, 2, 3, 1] } }), 'frames', sig.decoder.outputs[0]!.shape);

  const dyn = new Tape('trajforge_conv_dynamics');
  const z = dyn.input('z', sig.dynamics.inputs[0]!.shape);
  const action = dyn.input('action', sig.dynamics.inputs[1]!.shape);
  let normalised: string | null = null;
  if (A > 0) {
    const center = dyn.constant(m.action.center, [A]);
    const invScale = dyn.constant(m.action.scale.map((s) => 1 / s), [A]);
    normalised = dyn.declare(dyn.graph.mul(dyn.graph.sub(action, center), invScale), ['batch', A]);
  }
  const step = dynamics(dyn, z, normalised, shape, weightsOf(dyn));
  dyn.graph.output(step.next, 'z_next', sig.dynamics.outputs[0]!.shape);
  const rewardStd = dyn.constant(Float32Array.of(m.reward.std), []);
  const rewardMean = dyn.constant(Float32Array.of(m.reward.mean), []);
  dyn.graph.output(dyn.graph.add(dyn.graph.mul(step.reward, rewardStd), rewardMean), 'reward', sig.dynamics.outputs[1]!.shape);
  dyn.graph.output(dyn.graph.sigmoid(step.doneLogit), 'done', sig.dynamics.outputs[2]!.shape);

  const inv = new Tape('trajforge_conv_inverse');
  const zi = inv.input('z', sig.inverse.inputs[0]!.shape);
  const zn = inv.input('z_next', sig.inverse.inputs[1]!.shape);
  if (A > 0) {
    const a = inverse(inv, zi, zn, weightsOf(inv));
    const scale = inv.constant(m.action.scale, [A]);
    const center = inv.constant(m.action.center, [A]);
    inv.graph.output(inv.graph.add(inv.graph.mul(a, scale), center), 'action', sig.inverse.outputs[0]!.shape);
  } else {
    // No actions: an empty [batch, 0] answer, as the contract's shape says.
    inv.graph.output(inv.graph.slice(inv.graph.sub(zn, zi), [0], [0], [1]), 'action', sig.inverse.outputs[0]!.shape);
  }
  return { encoder: enc.graph.toBytes(), decoder: dec.graph.toBytes(), dynamics: dyn.graph.toBytes(), inverse: inv.graph.toBytes() };
}
