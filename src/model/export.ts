/**
 * The contract every world-model family's export meets: four ONNX graphs with named inputs and
 * outputs, so PyTorch/JAX pipelines (and onnxruntime-node here) run exactly what was trained:
 *   encoder   frames [batch, H, W, 3] (rgb in [0,1])      -> z [batch, L]
 *             (+ previous_index [batch] int64, when the card's input.context is 2: the row of the
 *             batch holding each frame's predecessor, its own row at an episode's start. A sequence
 *             is fed once, each frame the predecessor of the next, so per-frame work runs once a
 *             frame; a lone pair is fed as two rows. Models of an earlier release take the
 *             predecessors' pixels instead, as previous [batch, H, W, 3].)
 *   decoder   z [batch, L]                                -> frames [batch, H/f, W/f, 3] (unclipped)
 * The encoder takes the camera's frames and the decoder predicts at a size reduced by f.
 *   dynamics  z [batch, L], action [batch, A] (env units) -> z_next [batch, L], reward [batch, 1], done [batch, 1] (probability)
 *   inverse   z [batch, L], z_next [batch, L]             -> action [batch, A] (env units)
 * Action normalisation is part of the graphs, so callers feed and receive environment units.
 * Each family writes its graphs in its own folder (keypoints/export.ts, linear/export.ts, conv/export.ts).
 */
import { OnnxGraph } from './onnx/graph.js';

/** The encoder input naming each frame's predecessor by its row in the batch (context 2). */
export const PREVIOUS_INDEX = 'previous_index';

export type PartName = 'encoder' | 'decoder' | 'dynamics' | 'inverse';
export const PART_NAMES: readonly PartName[] = ['encoder', 'decoder', 'dynamics', 'inverse'];

export interface PartSignature {
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
}

/** The sizes the part signatures declare: encoder input (camera), decoded frames, latent, action. */
export interface PartShape {
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly width: number;
  readonly height: number;
  readonly latent: number;
  readonly actionDim: number;
  /** Frames per encoder input (default 1): with 2 the encoder also takes each frame's predecessor. */
  readonly context?: number;
}

/** The card's `parts` entry: one file per part with its declared signature. */
export function cardParts(m: Parameters<typeof partSignatures>[0]): Record<PartName, PartSignature & { file: string }> {
  const sig = partSignatures(m);
  return Object.fromEntries(PART_NAMES.map((p) => [p, { file: `${p}.onnx`, inputs: sig[p].inputs, outputs: sig[p].outputs }])) as Record<PartName, PartSignature & { file: string }>;
}

export function partSignatures(m: PartShape): Record<PartName, PartSignature> {
  const z = ['batch', m.latent];
  const a = ['batch', m.actionDim];
  return {
    encoder: {
      inputs: [{ name: 'frames', shape: ['batch', m.inputHeight, m.inputWidth, 3] }, ...((m.context ?? 1) > 1 ? [{ name: PREVIOUS_INDEX, shape: ['batch'] }] : [])],
      outputs: [{ name: 'z', shape: z }],
    },
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

/** frames [N, H, W, 3] box-filtered to [N, H/f, W/f, 3] (f = inputWidth / width): a Reshape and a ReduceSum. */
export function boxPoolGraph(g: OnnxGraph, frames: string, m: Pick<PartShape, 'inputWidth' | 'inputHeight' | 'width' | 'height'>): string {
  const f = m.inputWidth / m.width;
  if (f === 1) return frames;
  const blocks = g.reshape(frames, [-1, m.height, f, m.width, f, 3]);
  const sum = g.node('ReduceSum', [blocks, g.int64Initializer('pool.axes', [2, 4], [2])], { keepdims: { int: 0 } });
  return g.mul(sum, g.initializer('pool.inverse_area', Float32Array.of(1 / (f * f)), []));
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
