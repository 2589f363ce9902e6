import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decoderBytesFragment, PART_NAMES, partSignatures } from '../../src/model/export.js';
import { exportLatentModel } from '../../src/model/keypoints/export.js';
import { exportLinearModel } from '../../src/model/linear/export.js';
import { fitLinearHeads, fitLinearWorldModel } from '../../src/model/linear/model.js';
import { attrsGraph, mlpGraph, twoHeadsGraph } from '../helpers/onnx-graphs.js';
import { py } from './python.js';
import { toyTraining } from '../helpers/world-model.js';
import { adamGraph, trainGraph } from '../../src/model/conv/train-graph.js';
import { initialParams, paramSpecs } from '../../src/model/conv/network.js';
import { exportConvModel } from '../../src/model/conv/export.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-onnx-interop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Debian's python3-onnx as the independent checker: the full checker, then strict shape inference;
 * returns "ir opset" and every inferred or declared shape by name (a number, a symbolic name, or
 * null for an unknown dim).
 */
function pythonOnnx(bytes: Uint8Array, file: string): { versions: string; shapes: Record<string, (number | string | null)[]> } {
  const path = join(dir, file);
  writeFileSync(path, bytes);
  return py(`
import json, onnx, sys
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
versions = '%d %d' % (m.ir_version, m.opset_import[0].version)
m = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
def dims(v):
    return [d.dim_value if d.HasField('dim_value') else (d.dim_param if d.HasField('dim_param') else None) for d in v.type.tensor_type.shape.dim]
print(json.dumps({'versions': versions, 'shapes': {v.name: dims(v) for v in list(m.graph.value_info) + list(m.graph.output)}}))`, path) as { versions: string; shapes: Record<string, (number | string | null)[]> };
}

describe('python3-onnx checks the hand-built graphs', () => {
  it('MLP: passes the checker and infers the symbolic batch dim', () => {
    const { versions, shapes } = pythonOnnx(mlpGraph().bytes, 'mlp.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.y).toEqual(['batch', 5]);
    // The Gemm outputs inside the network carry the batch dim through.
    expect(shapes.gemm_0).toEqual(['batch', 16]);
    expect(shapes.gemm_3).toEqual(['batch', 5]);
  });

  it('two inputs, two heads and a residual: consistent inferred shapes', () => {
    const { versions, shapes } = pythonOnnx(twoHeadsGraph().bytes, 'two_heads.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.concat_0).toEqual(['batch', 6]);
    expect(shapes.add_0).toEqual(['batch', 4]);
    expect(shapes.reshape_0!.slice(1)).toEqual([2, 2]); // -1 leaves the first dim to the runtime
    expect(shapes.slice_0).toEqual(['batch', 2]);
    expect(shapes.next).toEqual(['batch', 2, 2]);
    expect(shapes.gate).toEqual(['batch', 2]);
  });

  it('FLOAT and INTS attributes as the checker reads them', () => {
    const { versions, shapes } = pythonOnnx(attrsGraph(), 'attrs.onnx');
    expect(versions).toBe('8 17');
    expect(shapes.transpose_0).toEqual([3, 2]);
  });
});

describe('python3-onnx checks every exported world-model graph', () => {
  const { t, train, model } = toyTraining();

  it('every part of the latent and linear models (and the byte decoder) passes the full check and infers the declared output shapes', () => {
    const linear = fitLinearWorldModel(t, train, { latent: 12 });
    const models = [
      { parts: exportLatentModel(model), sig: partSignatures(model), name: 'latent' },
      { parts: exportLinearModel(linear, fitLinearHeads(linear, t, train), 2), sig: partSignatures({ inputWidth: t.width, inputHeight: t.height, width: t.width, height: t.height, latent: 12, actionDim: 2 }), name: 'linear' },
    ];
    for (const { parts, sig, name } of models) for (const p of [...PART_NAMES, 'decoder+bytes' as const]) {
      // The decoder extended by WorldModelSession.decodeRgb must be a valid model too.
      const bytes = p === 'decoder+bytes' ? decoderBytesFragment(t.width, t.height).appendTo(parts.decoder) : parts[p];
      const { versions, shapes } = pythonOnnx(bytes, `${name}-${p}.onnx`);
      expect(versions, `${name} ${p}`).toBe('8 17');
      const declared = p === 'decoder+bytes' ? [...sig.decoder.outputs, { name: 'rgb', shape: ['batch', t.height, t.width, 3] }] : sig[p].outputs;
      for (const o of declared) expect(shapes[o.name], `${name} ${p} ${o.name}`).toEqual(o.shape);
    }
  });
});

describe('python3-onnx checks the convolutional model: its training step and its four parts', () => {
  const shape = { width: 16, height: 16, depth: 4, latent: 12, hidden: 16, actions: 2, states: 2, coords: true, keypoints: 2, context: 2, decoderMaps: true };

  it('the training-step graph (forward, backward, Adam) passes the full check; updated weights keep their shapes', () => {
    const { bytes } = trainGraph(shape, 2, 3, undefined, new Float32Array(16 * 16).fill(1));
    const { versions, shapes } = pythonOnnx(bytes, 'conv-train-step.onnx');
    expect(versions).toBe('8 17');
    for (const p of paramSpecs(shape)) expect(shapes[`${p.name}.next`], p.name).toEqual(p.dims);
    expect(shapes['loss.total']).toEqual([]);
  });

  it('the sharded step passes too: the gradient graph of a shard, and the Adam graph over two shards', () => {
    const gradients = pythonOnnx(trainGraph(shape, 1, 3, undefined, new Float32Array(16 * 16).fill(1), 'gradients').bytes, 'conv-train-gradients.onnx');
    expect(gradients.versions).toBe('8 17');
    const adam = pythonOnnx(adamGraph(shape, 2), 'conv-train-adam.onnx');
    expect(adam.versions).toBe('8 17');
    for (const p of paramSpecs(shape)) {
      expect(gradients.shapes[`grad.${p.name}`], p.name).toEqual(p.dims);
      expect(adam.shapes[`${p.name}.next`], p.name).toEqual(p.dims);
    }
    expect(gradients.shapes['loss.total']).toEqual([]);
  });

  it('the exported parts pass the full check at the camera size, also through the Resize of a 24x20 camera', () => {
    for (const input of [
      { width: 16, height: 16 },
      { width: 24, height: 20 },
    ]) {
      const params = initialParams(shape, 0);
      const parts = exportConvModel({ shape, input, params, action: { center: new Float32Array(2), scale: Float32Array.of(1, 1) }, reward: { mean: 0, std: 1 }, state: { columns: [0, 1], mean: new Float32Array(2), std: Float32Array.of(1, 1) } });
      const sig = partSignatures({ inputWidth: input.width, inputHeight: input.height, width: input.width, height: input.height, latent: 12, actionDim: 2, context: 2 });
      for (const p of PART_NAMES) {
        const { versions, shapes } = pythonOnnx(parts[p], `conv-${input.width}x${input.height}-${p}.onnx`);
        expect(versions, p).toBe('8 17');
        for (const o of sig[p].outputs) if (!(p === 'decoder' && input.width !== 16)) expect(shapes[o.name], `${p} ${o.name}`).toEqual(o.shape);
      }
    }
  });
});
