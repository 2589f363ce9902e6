/**
 * The behaviour-cloning policy's two graphs: the training step (forward pass, mean squared error
 * on normalised actions, backward pass and Adam, one onnxruntime session; see ../onnx/autodiff.ts)
 * and the exported policy, observation (or latent) in, action out in environment units, with the
 * input standardisation and the action rescaling folded in. Pure: bytes out.
 */
import type { Activation, Dense } from '../nn.js';
import { OnnxGraph } from '../onnx/graph.js';
import { Tape } from '../onnx/autodiff.js';

/** Layer widths and the hidden activation of the MLP. */
export interface BcShape {
  /** Input width D. */
  inputs: number;
  /** Hidden widths, one per hidden layer. */
  hidden: number[];
  /** Action width A. */
  outputs: number;
  activation: Extract<Activation, 'relu' | 'tanh'>;
}

/** The weights' names and dims, in layer order: `l<k>.weight` [in, out], `l<k>.bias` [out]. */
export function bcParams(shape: BcShape): { name: string; dims: number[] }[] {
  const sizes = [shape.inputs, ...shape.hidden, shape.outputs];
  return sizes.slice(1).flatMap((out, k) => [
    { name: `l${k}.weight`, dims: [sizes[k]!, out] },
    { name: `l${k}.bias`, dims: [out] },
  ]);
}

/**
 * One training step for batches of `batch` rows: inputs `x` [B, D] (standardised), `y` [B, A]
 * (actions scaled to [-1, 1]), `lr` and every weight with its Adam moments; outputs the updated
 * weights and moments, `grad_norm` and `loss` (the mean squared error before the step).
 */
export function bcTrainGraph(shape: BcShape, batch: number, adam: { beta1: number; beta2: number; epsilon: number; clipNorm: number }): Uint8Array {
  const t = new Tape('trajforge_bc_train_step');
  const x = t.input('x', [batch, shape.inputs]);
  const y = t.input('y', [batch, shape.outputs]);
  const specs = bcParams(shape);
  let h = x;
  for (let k = 0; k < specs.length / 2; k++) {
    const w = t.param(specs[2 * k]!.name, specs[2 * k]!.dims);
    const b = t.param(specs[2 * k + 1]!.name, specs[2 * k + 1]!.dims);
    h = t.dense(h, w, b);
    if (k < specs.length / 2 - 1) h = shape.activation === 'relu' ? t.relu(h) : t.tanh(h);
  }
  const loss = t.mse(h, y);
  t.adam(t.gradients(loss), adam);
  t.graph.output(loss, 'loss', []);
  return t.graph.toBytes();
}

export interface BcNormalisation {
  /** Per input dimension: x' = (x - mean) / std. */
  mean: Float32Array;
  std: Float32Array;
  /** Per action dimension: a = center + scale · y. */
  center: Float32Array;
  scale: Float32Array;
  /** The action box the outputs are clipped to. */
  low: Float32Array;
  high: Float32Array;
}

/**
 * The policy graph of the ONNX policy convention: one input `inputName` [N, D], one output
 * `action` [N, A] = clip(center + scale · MLP((x - mean) / std), low, high).
 */
export function bcPolicyGraph(shape: BcShape, params: Map<string, Float32Array>, norm: BcNormalisation, inputName: 'observation' | 'latent'): Uint8Array {
  const g = new OnnxGraph('trajforge_bc_policy');
  const x = g.input(inputName, ['batch', shape.inputs]);
  const invStd = norm.std.map((s) => 1 / s);
  const standardised = g.mul(g.sub(x, g.initializer('input.mean', norm.mean, [shape.inputs])), g.initializer('input.inv_std', invStd, [shape.inputs]));
  const sizes = [shape.inputs, ...shape.hidden, shape.outputs];
  const layers: Dense[] = sizes.slice(1).map((outputs, k) => ({
    inputs: sizes[k]!,
    outputs,
    weights: params.get(`l${k}.weight`)!,
    bias: params.get(`l${k}.bias`)!,
    activation: k + 2 === sizes.length ? 'linear' : shape.activation,
  }));
  const y = g.mlp(standardised, layers, 'mlp');
  const scaled = g.add(g.mul(y, g.initializer('action.scale', norm.scale, [shape.outputs])), g.initializer('action.center', norm.center, [shape.outputs]));
  const clipped = g.node('Min', [g.node('Max', [scaled, g.initializer('action.low', norm.low, [shape.outputs])]), g.initializer('action.high', norm.high, [shape.outputs])]);
  g.output(clipped, 'action', ['batch', shape.outputs]);
  return g.toBytes();
}
