import { describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import type { Rng } from '../../../src/core/rng.js';
import { apply, type Dense } from '../../../src/model/nn.js';
import { describeModel, OnnxGraph } from '../../../src/model/onnx/graph.js';
import { OnnxModel, parseProviders } from '../../../src/model/onnx/runtime.js';
import { runDeclared } from '../../helpers/onnx.js';
import { attrsGraph, mlpGraph, twoHeadsGraph } from '../../helpers/onnx-graphs.js';

function randomRows(rng: Rng, n: number, width: number, scale = 1): Float32Array {
  const x = new Float32Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * scale;
  return x;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function runOnce(bytes: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>) {
  const model = await OnnxModel.load(bytes);
  try {
    return await model.run(feeds);
  } finally {
    await model.release();
  }
}

describe('ONNX export of an MLP', () => {
  // relu, tanh, sigmoid and linear layers, in that order.
  const { rng, mlp, bytes } = mlpGraph();

  it('matches apply() on a batch of 7 rows', async () => {
    expect(mlp.map((l) => l.activation)).toEqual(['relu', 'tanh', 'sigmoid', 'linear']);
    const x = randomRows(rng, 7, 6);
    const out = await runOnce(bytes, { x: { data: x, dims: [7, 6] } });
    expect(out.y!.dims).toEqual([7, 5]);
    expect(maxAbsDiff(out.y!.data, apply(mlp, x, 7))).toBeLessThan(1e-5);
  });

  it('runs the same with two threads that sleep between runs (spinning: false, as label loads it)', async () => {
    const x = randomRows(rng, 64, 6);
    const model = await OnnxModel.load(bytes, { threads: 2, spinning: false });
    try {
      for (let run = 0; run < 3; run++) expect(maxAbsDiff((await model.run({ x: { data: x, dims: [64, 6] } })).y!.data, apply(mlp, x, 64))).toBeLessThan(1e-5);
    } finally {
      await model.release();
    }
  });

  it('onnxruntime declares the symbolic batch dim and runs at batch 1 and 3 with the declared shapes', async () => {
    for (const n of [1, 3]) {
      const run = await runDeclared(bytes, n);
      expect(run.inputs).toEqual({ x: { type: 'float32', shape: ['batch', 6] } });
      expect(run.outputs.y).toMatchObject({ type: 'float32', shape: ['batch', 5], dims: [n, 5] });
      const x = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i * 0.7 + 0.3));
      expect(maxAbsDiff(run.outputs.y!.data, apply(mlp, x, n))).toBeLessThan(1e-5);
    }
  });

  it('reads back its own summary', () => {
    const s = describeModel(bytes);
    expect(s).toEqual({
      irVersion: 8,
      opset: 17,
      producerName: 'trajforge',
      graphName: 'mlp',
      inputs: [{ name: 'x', dims: ['batch', 6] }],
      outputs: [{ name: 'y', dims: ['batch', 5] }],
      initializerCount: 8,
      nodeCount: 4 + 3 + 1, // four Gemm, three activations, the output Identity
      opTypes: ['Gemm', 'Relu', 'Tanh', 'Sigmoid', 'Identity'],
    });
  });
});

describe('ONNX graph with two inputs, two heads and a residual', () => {
  const { rng, headA, headB, bytes } = twoHeadsGraph();

  function reference(o: Float32Array, a: Float32Array, n: number) {
    const zRef = new Float32Array(n * 6);
    for (let r = 0; r < n; r++) {
      zRef.set(o.subarray(r * 4, r * 4 + 4), r * 6);
      zRef.set(a.subarray(r * 2, r * 2 + 2), r * 6 + 4);
    }
    const ya = apply(headA, zRef, n);
    const yb = apply(headB, zRef, n);
    const nextRef = new Float32Array(n * 4);
    for (let i = 0; i < nextRef.length; i++) nextRef[i] = Math.min(0.5, Math.max(-0.5, o[i]! + ya[i]!));
    const gateRef = new Float32Array(n * 2);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < 2; k++) gateRef[r * 2 + k] = (1 / (1 + Math.exp(-yb[r * 3 + 1 + k]!))) * yb[r * 3 + k]! - a[r * 2 + k]!;
    }
    return { nextRef, gateRef };
  }

  it('computes what plain JS computes', async () => {
    const n = 5;
    const o = randomRows(rng, n, 4, 0.4);
    const a = randomRows(rng, n, 2);
    const out = await runOnce(bytes, { obs: { data: o, dims: [n, 4] }, act: { data: a, dims: [n, 2] } });
    const { nextRef, gateRef } = reference(o, a, n);
    expect(out.next!.dims).toEqual([n, 2, 2]);
    expect(out.gate!.dims).toEqual([n, 2]);
    expect(maxAbsDiff(out.next!.data, nextRef)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.gate!.data, gateRef)).toBeLessThan(1e-5);
    // The clip is active on some entries, so the test would notice it missing.
    expect(nextRef.some((v) => Math.abs(v) === 0.5)).toBe(true);
  });

  it('onnxruntime declares both inputs and heads and runs them at batch 4 with the declared shapes', async () => {
    const run = await runDeclared(bytes, 4);
    expect(run.inputs).toEqual({ obs: { type: 'float32', shape: ['batch', 4] }, act: { type: 'float32', shape: ['batch', 2] } });
    expect(run.outputs.next).toMatchObject({ shape: ['batch', 2, 2], dims: [4, 2, 2] });
    expect(run.outputs.gate).toMatchObject({ shape: ['batch', 2], dims: [4, 2] });
    const feed = (k: number) => Float32Array.from({ length: k }, (_, i) => Math.sin(i * 0.7 + 0.3));
    const { nextRef, gateRef } = reference(feed(16), feed(8), 4);
    expect(maxAbsDiff(run.outputs.next!.data, nextRef)).toBeLessThan(1e-5);
    expect(maxAbsDiff(run.outputs.gate!.data, gateRef)).toBeLessThan(1e-5);
  });

  it('summarises inputs, outputs and ops', () => {
    const s = describeModel(bytes);
    expect(s.inputs).toEqual([
      { name: 'obs', dims: ['batch', 4] },
      { name: 'act', dims: ['batch', 2] },
    ]);
    expect(s.outputs.map((o) => o.name)).toEqual(['next', 'gate']);
    expect(s.opTypes).toEqual(['Concat', 'Gemm', 'Tanh', 'Add', 'Reshape', 'Clip', 'Identity', 'Relu', 'Sigmoid', 'Slice', 'Mul', 'Sub']);
  });
});

describe('ONNX attributes', () => {
  it('encodes FLOAT and INTS attributes as onnxruntime reads them', async () => {
    const bytes = attrsGraph();
    const out = await runOnce(bytes, { x: { data: Float32Array.of(1, -2, 3, -4, 5, -6), dims: [2, 3] } });
    expect(out.y!.dims).toEqual([3, 2]);
    expect([...out.y!.data]).toEqual([1, -1, -0.5, 5, 3, -1.5]);
    const run = await runDeclared(bytes, 1);
    expect(run.inputs.x!.shape).toEqual([2, 3]);
    expect(run.outputs.y).toMatchObject({ shape: [3, 2], dims: [3, 2] });
  });
});

describe('ONNX builder and runtime errors', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof TrajforgeError ? e.code : String(e);
    }
    return 'no error';
  };

  it('rejects unknown tensors, duplicate names and mis-sized constants', () => {
    const g = new OnnxGraph('bad');
    g.input('x', ['batch', 3]);
    expect(code(() => g.add('x', 'nope'))).toBe('E_INTERNAL');
    expect(code(() => g.input('x', [1]))).toBe('E_INTERNAL');
    expect(code(() => g.initializer('w', new Float32Array(5), [2, 3]))).toBe('E_MODEL_SHAPE');
    const layer: Dense = { inputs: 3, outputs: 2, weights: new Float32Array(5), bias: new Float32Array(2), activation: 'linear' };
    expect(code(() => g.gemm('x', layer))).toBe('E_MODEL_SHAPE');
    expect(code(() => g.toBytes())).toBe('E_INTERNAL'); // no outputs yet
  });

  it('reports bad feeds as E_MODEL_SHAPE', async () => {
    const g = new OnnxGraph('small');
    g.output(g.sigmoid(g.input('x', ['batch', 3])), 'y', ['batch', 3]);
    const model = await OnnxModel.load(g.toBytes(), { providers: ['cpu'], threads: 1 });
    expect(model.inputNames).toEqual(['x']);
    expect(model.outputNames).toEqual(['y']);
    await expect(model.run({})).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
    await expect(model.run({ x: { data: new Float32Array(4), dims: [2, 2] } })).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
    await expect(model.run({ x: { data: new Float32Array(5), dims: [2, 3] } })).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
    await expect(model.run({ x: { data: new Float32Array(3), dims: [1, 3] }, z: { data: new Float32Array(1), dims: [1] } })).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
    const ok = await model.run({ x: { data: Float32Array.of(0, 1, -1), dims: [1, 3] } });
    expect(ok.y!.data[0]).toBeCloseTo(0.5, 6);
    await model.release();
    await expect(model.run({ x: { data: new Float32Array(3), dims: [1, 3] } })).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });

  it('wraps load failures as E_INTERNAL', async () => {
    await expect(OnnxModel.load(Uint8Array.of(1, 2, 3))).rejects.toMatchObject({ code: 'E_INTERNAL' });
    expect(code(() => describeModel(Uint8Array.of(0x0a, 0x05, 1)))).toBe('E_MODEL_SHAPE');
  });

  it('parses the provider list', () => {
    expect(parseProviders(undefined)).toEqual(['cpu']);
    expect(parseProviders(' ')).toEqual(['cpu']);
    expect(parseProviders('CUDA, cpu')).toEqual(['cuda', 'cpu']);
  });
});
