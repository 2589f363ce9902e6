import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { Rng } from '../../../src/core/rng.js';
import { apply, createMlp, type Dense } from '../../../src/model/nn.js';
import { describeModel, OnnxGraph } from '../../../src/model/onnx/graph.js';
import { OnnxModel, parseProviders } from '../../../src/model/onnx/runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function randomRows(rng: Rng, n: number, width: number, scale = 1): Float32Array {
  const x = new Float32Array(n * width);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * scale;
  return x;
}

/** createMlp leaves biases at zero; random ones make the Gemm C input matter. */
function withRandomBiases(layers: Dense[], rng: Rng): Dense[] {
  for (const l of layers) for (let o = 0; o < l.outputs; o++) l.bias[o] = rng.normal() * 0.3;
  return layers;
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

/**
 * Debian's python3-onnx (installed by .ci/run) as the independent reader: the full checker,
 * then strict shape inference; returns "ir opset" and every inferred or declared shape by name
 * (a number, a symbolic name, or null for an unknown dim).
 */
function pythonOnnx(bytes: Uint8Array, file: string): { versions: string; shapes: Record<string, (number | string | null)[]> } {
  const path = join(dir, file);
  writeFileSync(path, bytes);
  const check = execFileSync('/usr/bin/python3', ['-c', 'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.ir_version, m.opset_import[0].version)', path]).toString().trim();
  const script = `
import json, onnx, sys
m = onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1]), check_type=True, strict_mode=True)
def dims(v):
    return [d.dim_value if d.HasField('dim_value') else (d.dim_param if d.HasField('dim_param') else None) for d in v.type.tensor_type.shape.dim]
print(json.dumps({v.name: dims(v) for v in list(m.graph.value_info) + list(m.graph.output)}))
`;
  const shapes = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, path]).toString());
  return { versions: check, shapes };
}

describe('ONNX export of an MLP', () => {
  const rng = new Rng(1);
  // relu, tanh, sigmoid and linear layers, in that order.
  const mlp = withRandomBiases([...createMlp([6, 16, 12], 'relu', 'tanh', rng), ...createMlp([12, 10, 5], 'sigmoid', 'linear', rng)], rng);
  const g = new OnnxGraph('mlp');
  const y = g.mlp(g.input('x', ['batch', 6]), mlp);
  g.output(y, 'y', ['batch', 5]);
  const bytes = g.toBytes();

  it('matches apply() on a batch of 7 rows', async () => {
    expect(mlp.map((l) => l.activation)).toEqual(['relu', 'tanh', 'sigmoid', 'linear']);
    const x = randomRows(rng, 7, 6);
    const out = await runOnce(bytes, { x: { data: x, dims: [7, 6] } });
    expect(out.y!.dims).toEqual([7, 5]);
    expect(maxAbsDiff(out.y!.data, apply(mlp, x, 7))).toBeLessThan(1e-5);
  });

  it('passes the onnx checker and infers the symbolic batch dim', () => {
    const { versions, shapes } = pythonOnnx(bytes, 'mlp.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.y).toEqual(['batch', 5]);
    // The Gemm outputs inside the network carry the batch dim through.
    expect(shapes.gemm_0).toEqual(['batch', 16]);
    expect(shapes.gemm_3).toEqual(['batch', 5]);
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
  // gate = sigmoid(b[:, 1:3]) * b[:, 0:2] - act
  const gate = g.sub(g.mul(g.sigmoid(g.slice(b, [1], [3], [1])), g.slice(b, [0], [2], [1])), act);
  g.output(gate, 'gate', ['batch', 2]);
  const bytes = g.toBytes();

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

  it('passes the onnx checker with consistent inferred shapes', () => {
    const { versions, shapes } = pythonOnnx(bytes, 'two_heads.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.concat_0).toEqual(['batch', 6]);
    expect(shapes.add_0).toEqual(['batch', 4]);
    expect(shapes.reshape_0!.slice(1)).toEqual([2, 2]); // -1 leaves the first dim to the runtime
    expect(shapes.slice_0).toEqual(['batch', 2]);
    expect(shapes.next).toEqual(['batch', 2, 2]);
    expect(shapes.gate).toEqual(['batch', 2]);
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
  it('encodes FLOAT and INTS attributes as onnxruntime and the checker read them', async () => {
    const g = new OnnxGraph('attrs');
    const x = g.input('x', [2, 3]);
    const leaky = g.node('LeakyRelu', [x], { alpha: { float: 0.25 } });
    g.output(g.node('Transpose', [leaky], { perm: { ints: [1, 0] } }), 'y', [3, 2]);
    const bytes = g.toBytes();
    const out = await runOnce(bytes, { x: { data: Float32Array.of(1, -2, 3, -4, 5, -6), dims: [2, 3] } });
    expect(out.y!.dims).toEqual([3, 2]);
    expect([...out.y!.data]).toEqual([1, -1, -0.5, 5, 3, -1.5]);
    const { versions, shapes } = pythonOnnx(bytes, 'attrs.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.transpose_0).toEqual([3, 2]);
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
