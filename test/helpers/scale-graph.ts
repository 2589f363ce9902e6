import { OnnxGraph } from '../../src/model/onnx/graph.js';

/** y = x · w over a symbolic batch of 3-vectors: the smallest graph whose runs tell their feeds apart. */
export function scaleGraph(name: string): Uint8Array {
  const g = new OnnxGraph(name);
  g.input('x', ['n', 3]);
  g.input('w', [3]);
  g.output(g.mul('x', 'w'), 'y', ['n', 3]);
  return g.toBytes();
}
