/** The small hand-built ONNX graphs of the ONNX tests, shared by test/unit and test/interop. */
import { Rng } from '../../src/core/rng.js';
import { createMlp, type Dense } from '../../src/model/nn.js';
import { OnnxGraph } from '../../src/model/onnx/graph.js';

/** createMlp leaves biases at zero; random ones make the Gemm C input matter. */
function withRandomBiases(layers: Dense[], rng: Rng): Dense[] {
  for (const l of layers) for (let o = 0; o < l.outputs; o++) l.bias[o] = rng.normal() * 0.3;
  return layers;
}

/** An MLP with relu, tanh, sigmoid and linear layers, in that order; rng goes on for the test's inputs. */
export function mlpGraph() {
  const rng = new Rng(1);
  const mlp = withRandomBiases([...createMlp([6, 16, 12], 'relu', 'tanh', rng), ...createMlp([12, 10, 5], 'sigmoid', 'linear', rng)], rng);
  const g = new OnnxGraph('mlp');
  g.output(g.mlp(g.input('x', ['batch', 6]), mlp), 'y', ['batch', 5]);
  return { rng, mlp, bytes: g.toBytes() };
}

/** Two inputs, two heads and a residual: next = clip(reshape(obs + headA(z))), gate = sigmoid(b[:, 1:3]) * b[:, 0:2] - act. */
export function twoHeadsGraph() {
  const rng = new Rng(2);
  const headA = withRandomBiases(createMlp([6, 8, 4], 'tanh', 'linear', rng), rng);
  const headB = withRandomBiases(createMlp([6, 8, 3], 'relu', 'sigmoid', rng), rng);
  const g = new OnnxGraph('two_heads');
  const obs = g.input('obs', ['batch', 4]);
  const act = g.input('act', ['batch', 2]);
  const z = g.concat([obs, act], 1);
  const next = g.clip(g.reshape(g.add(obs, g.mlp(z, headA, 'head_a')), [-1, 2, 2]), -0.5, 0.5);
  g.output(next, 'next', ['batch', 2, 2]);
  const b = g.mlp(z, headB, 'head_b');
  const gate = g.sub(g.mul(g.sigmoid(g.slice(b, [1], [3], [1])), g.slice(b, [0], [2], [1])), act);
  g.output(gate, 'gate', ['batch', 2]);
  return { rng, headA, headB, bytes: g.toBytes() };
}

/** FLOAT and INTS attributes: LeakyRelu(alpha 0.25) then Transpose(perm [1, 0]) of a 2x3 input. */
export function attrsGraph(): Uint8Array {
  const g = new OnnxGraph('attrs');
  const x = g.input('x', [2, 3]);
  const leaky = g.node('LeakyRelu', [x], { alpha: { float: 0.25 } });
  g.output(g.node('Transpose', [leaky], { perm: { ints: [1, 0] } }), 'y', [3, 2]);
  return g.toBytes();
}
