/**
 * Frames whose size is not a multiple of 16 (or larger than 64 a side) are resized to a working
 * size for the convolutional model, by onnxruntime's bilinear Resize: the same op resizes the
 * training data here and sits in the exported encoder (and, back to the camera size, the decoder),
 * so training and inference see identical pixels.
 */
import { OnnxGraph } from '../onnx/graph.js';
import { OnnxModel, type OnnxModelOptions } from '../onnx/runtime.js';

export interface Size {
  width: number;
  height: number;
}

const MAX_SIDE = 64;
const MULTIPLE = 16;

/** The camera's size when both sides are multiples of 16 and at most 64; else the longer side 64 (or less), the shorter in proportion. */
export function workingSize(width: number, height: number): Size {
  if (width % MULTIPLE === 0 && height % MULTIPLE === 0 && Math.max(width, height) <= MAX_SIDE) return { width, height };
  const long = Math.max(MULTIPLE, Math.min(MAX_SIDE, Math.floor(Math.max(width, height) / MULTIPLE) * MULTIPLE));
  const side = (s: number) => Math.max(MULTIPLE, Math.round((s * long) / Math.max(width, height) / MULTIPLE) * MULTIPLE);
  return { width: side(width), height: side(height) };
}

/** NCHW x -> NCHW at `to` (bilinear, half-pixel centres); x unchanged when the sizes agree. */
export function resizeNode(g: OnnxGraph, x: string, to: Size, from: Size): string {
  if (to.width === from.width && to.height === from.height) return x;
  const sizes = g.int64Initializer(`${x}.resize_${to.width}x${to.height}.sizes`, [0, 0, to.height, to.width], [4]);
  // Batch and channels are taken from the input at run time: Shape[0:2] ++ [h, w].
  const head = g.slice(g.node('Shape', [x]), [0], [2], [0]);
  const target = g.concat([head, g.slice(sizes, [2], [4], [0])], 0);
  return g.node('Resize', [x, '', '', target], { mode: { string: 'linear' } });
}

/** uint8 HWC frames at `from` -> uint8 HWC frames at `to`, through the same Resize as the exported graphs. */
export async function resizeFrames(frames: Uint8Array, from: Size, to: Size, onnx: OnnxModelOptions = {}): Promise<Uint8Array> {
  const g = new OnnxGraph('trajforge_resize');
  const x = g.node('Transpose', [g.input('frames', ['batch', from.height, from.width, 3])], { perm: { ints: [0, 3, 1, 2] } });
  g.output(g.node('Transpose', [resizeNode(g, x, to, from)], { perm: { ints: [0, 2, 3, 1] } }), 'resized', ['batch', to.height, to.width, 3]);
  const model = await OnnxModel.load(g.toBytes(), onnx);
  const inPer = from.width * from.height * 3;
  const outPer = to.width * to.height * 3;
  const n = frames.length / inPer;
  const out = new Uint8Array(n * outPer);
  const chunk = 256;
  try {
    for (let first = 0; first < n; first += chunk) {
      const m = Math.min(chunk, n - first);
      const data = new Float32Array(m * inPer);
      for (let i = 0; i < data.length; i++) data[i] = frames[first * inPer + i]!;
      const r = (await model.run({ frames: { data, dims: [m, from.height, from.width, 3] } })).resized!.data;
      for (let i = 0; i < m * outPer; i++) out[first * outPer + i] = Math.min(255, Math.max(0, Math.round(r[i]!)));
    }
  } finally {
    await model.release();
  }
  return out;
}
