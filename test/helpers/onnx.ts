/**
 * onnxruntime-node, called directly rather than through src/model/onnx/runtime.ts, as the npm reader
 * of exported graphs: the declared input and output shapes, and one run at a given batch size.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';

export type Dims = (number | string)[];

export interface DeclaredRun {
  inputs: Record<string, { type: string; shape: Dims }>;
  outputs: Record<string, { type: string; shape: Dims; dims: number[]; data: ArrayLike<number> }>;
}

/** Loads a graph, feeds every input at its declared shape (symbolic dims = batch) and runs it. */
export async function runDeclared(bytes: Uint8Array, batch: number): Promise<DeclaredRun> {
  const session = await InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const run: DeclaredRun = { inputs: {}, outputs: {} };
    const feeds: Record<string, Tensor> = {};
    for (const m of session.inputMetadata) {
      if (!m.isTensor) throw new Error(`${m.name}: not a tensor input`);
      run.inputs[m.name] = { type: m.type, shape: [...m.shape] };
      const dims = m.shape.map((d) => (typeof d === 'number' ? d : batch));
      const n = dims.reduce((a, b) => a * b, 1);
      // Values in [-1, 1] that differ per element, so no output is trivially constant.
      if (m.type !== 'float32') throw new Error(`${m.name}: input type ${m.type}`);
      feeds[m.name] = new Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + 0.3)), dims);
    }
    const out = await session.run(feeds);
    for (const m of session.outputMetadata) {
      if (!m.isTensor) throw new Error(`${m.name}: not a tensor output`);
      const t = out[m.name]!;
      run.outputs[m.name] = { type: m.type, shape: [...m.shape], dims: [...t.dims], data: t.data as ArrayLike<number> };
    }
    return run;
  } finally {
    await session.release();
  }
}

/** A declared shape with its symbolic dims replaced by the batch size. */
export function atBatch(shape: Dims, batch: number): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : batch));
}
