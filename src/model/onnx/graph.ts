/**
 * A hand-written ONNX graph builder: enough of onnx.proto (IR version 8, default-domain opset 17)
 * to export the dense world-model networks of ../nn.ts for onnxruntime, without a protobuf
 * dependency. Pure: produces ModelProto bytes, the caller decides where they go.
 *
 * Every tensor is float32 except the int64 constants that Reshape and Slice take as inputs and
 * int64 index inputs (Gather's).
 * Nodes are appended in call order, which is a topological order because a node can only name
 * tensors that already exist.
 */
import { TrajforgeError } from '../../core/errors.js';
import { Proto, readBytes, readFields, readInts, readStrings, type ProtoField } from '../../core/proto.js';
import type { Dense, Mlp } from '../nn.js';

export const IR_VERSION = 8;
export const OPSET_VERSION = 17;
export const PRODUCER_NAME = 'trajforge';

/** A tensor dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

/** The attribute kinds the builder emits: AttributeProto INT, FLOAT, STRING and INTS. */
export type Attribute = { readonly int: number } | { readonly float: number } | { readonly string: string } | { readonly ints: readonly number[] };

/** TensorProto.DataType values used here. */
const FLOAT = 1;
const UINT8 = 2;
const INT64 = 7;

/** AttributeProto.AttributeType values. */
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, Attribute>>;
}

/** A graph input or output: its name, shape and element type (float32 unless said). */
export interface TensorInfo {
  readonly name: string;
  readonly dims: readonly Dim[];
  readonly type?: 'float32' | 'uint8' | 'int64';
}

const ACTIVATION_OPS = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid', linear: undefined } as const;

export class OnnxGraph {
  private readonly inputs: TensorInfo[] = [];
  private readonly outputs: TensorInfo[] = [];
  private readonly initializers: Proto[] = [];
  private readonly nodes: NodeSpec[] = [];
  /** Every tensor name in use (inputs, initializers, node outputs), to keep names unique. */
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();

  /** namespace: prefix of generated tensor names, so a fragment for appendTo cannot clash with its host graph. */
  constructor(
    readonly name: string,
    private readonly namespace = '',
  ) {}

  /** A graph input (float32 unless said); returns its name. */
  input(name: string, dims: readonly Dim[], type: TensorInfo['type'] = 'float32'): string {
    this.claim(name);
    checkDims(dims, `input ${name}`);
    this.inputs.push({ name, dims: [...dims], type });
    return name;
  }

  /** A float32 constant (stored as little-endian raw_data); returns its name. */
  initializer(name: string, data: Float32Array, dims: readonly number[]): string {
    checkStaticDims(data.length, dims, `initializer ${name}`);
    this.claim(name);
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
    this.initializers.push(tensorProto(name, FLOAT, dims, raw));
    return name;
  }

  /** An int64 constant (shapes, slice bounds); returns its name. */
  int64Initializer(name: string, data: readonly number[], dims: readonly number[]): string {
    checkStaticDims(data.length, dims, `initializer ${name}`);
    for (const v of data) if (!Number.isSafeInteger(v)) throw shapeError(`initializer ${name}: ${v} is not an integer`);
    this.claim(name);
    const raw = new Uint8Array(data.length * 8);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
    this.initializers.push(tensorProto(name, INT64, dims, raw));
    return name;
  }

  /** A single-output node; returns the (auto-named) output. */
  node(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, Attribute>> = {}): string {
    return this.nodeWithOutputs(opType, inputs, [this.fresh(opType.toLowerCase())], attributes)[0]!;
  }

  /** A node with explicitly named outputs (which must be new names); returns them. */
  nodeWithOutputs(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Readonly<Record<string, Attribute>> = {}): string[] {
    // '' is ONNX's "optional input left out"; anything else must already exist.
    for (const input of inputs) if (input !== '' && !this.names.has(input)) throw internal(`${opType}: unknown input tensor '${input}'`);
    for (const output of outputs) this.claim(output);
    this.nodes.push({ opType, inputs: [...inputs], outputs: [...outputs], attributes: { ...attributes } });
    return [...outputs];
  }

  /** act(x·W + b) for one dense layer: Gemm (transB = 0, W stored inputs × outputs) then the activation. */
  gemm(x: string, layer: Dense, prefix = this.fresh('dense')): string {
    if (layer.weights.length !== layer.inputs * layer.outputs || layer.bias.length !== layer.outputs) {
      throw shapeError(`${prefix}: a ${layer.inputs}→${layer.outputs} layer needs ${layer.inputs * layer.outputs} weights and ${layer.outputs} biases, has ${layer.weights.length} and ${layer.bias.length}`);
    }
    const w = this.initializer(`${prefix}.weight`, layer.weights, [layer.inputs, layer.outputs]);
    const b = this.initializer(`${prefix}.bias`, layer.bias, [layer.outputs]);
    const y = this.node('Gemm', [x, w, b], { transB: { int: 0 } });
    const op = ACTIVATION_OPS[layer.activation];
    return op === undefined ? y : this.node(op, [y]);
  }

  /** The layers in order, as ../nn.ts's apply() computes them. */
  mlp(x: string, layers: Mlp, prefix = this.fresh('mlp')): string {
    for (let l = 1; l < layers.length; l++) {
      if (layers[l]!.inputs !== layers[l - 1]!.outputs) throw shapeError(`${prefix}: layer ${l} takes ${layers[l]!.inputs} inputs but layer ${l - 1} gives ${layers[l - 1]!.outputs}`);
    }
    let h = x;
    layers.forEach((layer, l) => (h = this.gemm(h, layer, `${prefix}.${l}`)));
    return h;
  }

  concat(xs: readonly string[], axis: number): string {
    return this.node('Concat', xs, { axis: { int: axis } });
  }

  add(a: string, b: string): string {
    return this.node('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.node('Sub', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.node('Mul', [a, b]);
  }

  sigmoid(x: string): string {
    return this.node('Sigmoid', [x]);
  }

  /** Reshape with a constant target shape (0 copies the input's dim, -1 is inferred). */
  reshape(x: string, shape: readonly number[]): string {
    const s = this.int64Initializer(this.fresh('shape'), shape, [shape.length]);
    return this.node('Reshape', [x, s]);
  }

  /** Elementwise clamp to [min, max]; opset 11+ takes the bounds as scalar inputs. */
  clip(x: string, min: number, max: number): string {
    const lo = this.initializer(this.fresh('clip_min'), Float32Array.of(min), []);
    const hi = this.initializer(this.fresh('clip_max'), Float32Array.of(max), []);
    return this.node('Clip', [x, lo, hi]);
  }

  /** x[starts:ends] along axes (negative indices count from the end, as in ONNX). */
  slice(x: string, starts: readonly number[], ends: readonly number[], axes: readonly number[]): string {
    if (starts.length !== ends.length || starts.length !== axes.length) throw shapeError('slice: starts, ends and axes must have the same length');
    const n = starts.length;
    const s = this.int64Initializer(this.fresh('slice_starts'), starts, [n]);
    const e = this.int64Initializer(this.fresh('slice_ends'), ends, [n]);
    const a = this.int64Initializer(this.fresh('slice_axes'), axes, [n]);
    return this.node('Slice', [x, s, e, a]);
  }

  /** Declares x a float32 graph output called `name` (through Identity when x has another name). */
  output(x: string, name: string, dims: readonly Dim[], type: TensorInfo['type'] = 'float32'): string {
    checkDims(dims, `output ${name}`);
    if (this.outputs.some((o) => o.name === name)) throw internal(`output '${name}' declared twice`);
    if (x !== name) this.nodeWithOutputs('Identity', [x], [name]);
    else if (!this.names.has(x)) throw internal(`output: unknown tensor '${x}'`);
    this.outputs.push({ name, dims: [...dims], type });
    return name;
  }

  /** The serialised ModelProto. */
  toBytes(): Uint8Array {
    return new Proto()
      .int(1, IR_VERSION)
      .string(2, PRODUCER_NAME)
      .message(7, this.graphProto(true))
      .message(8, new Proto().string(1, '').int(2, OPSET_VERSION))
      .done();
  }

  /** Names a tensor of the graph this one will be appended to (see appendTo), so nodes can read it. */
  external(name: string): string {
    this.claim(name);
    return name;
  }

  /**
   * Appends this graph's nodes, initializers, inputs and outputs to the graph inside `model` (a
   * serialised ModelProto from toBytes): protobuf concatenates repeated fields, so the result is
   * the union, and the extended model runs in one onnxruntime session. Tensor names must not
   * clash with the model's (give the fragment a namespace); node names are prefixed with this graph's name.
   */
  appendTo(model: Uint8Array): Uint8Array {
    const out = new Proto();
    let graphs = 0;
    for (const f of readFields(model)) {
      if (f.wire === 0) out.int(f.field, f.value);
      else if (f.wire !== 2) throw internal(`appendTo: unexpected fixed-width field ${f.field} in a ModelProto`);
      else if (f.field !== 7) out.bytes(f.field, f.value);
      else {
        graphs++;
        const extra = this.graphProto(false).done();
        const merged = new Uint8Array(f.value.length + extra.length);
        merged.set(f.value);
        merged.set(extra, f.value.length);
        out.bytes(7, merged);
      }
    }
    if (graphs !== 1) throw internal(`appendTo: expected one graph in the model, found ${graphs}`);
    return out.done();
  }

  /** GraphProto fields; a fragment (complete = false) has no name and prefixes its node names. */
  private graphProto(complete: boolean): Proto {
    if (this.outputs.length === 0) throw internal(`graph ${this.name} has no outputs`);
    const graph = new Proto();
    this.nodes.forEach((n, i) => graph.message(1, nodeProto(n, `${complete ? '' : `${this.name}.`}${n.opType}_${i}`)));
    if (complete) graph.string(2, this.name);
    for (const t of this.initializers) graph.message(5, t);
    for (const v of this.inputs) graph.message(11, valueInfoProto(v));
    for (const v of this.outputs) graph.message(12, valueInfoProto(v));
    return graph;
  }

  private claim(name: string): void {
    if (name === '') throw internal('tensor names must not be empty');
    if (this.names.has(name)) throw internal(`tensor name '${name}' is already used`);
    this.names.add(name);
  }

  /** `base_k` with the smallest k that is still free. */
  private fresh(base: string): string {
    const stem = this.namespace + base;
    let k = this.counters.get(stem) ?? 0;
    while (this.names.has(`${stem}_${k}`)) k++;
    this.counters.set(stem, k + 1);
    return `${stem}_${k}`;
  }
}

function tensorProto(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Proto {
  return new Proto().ints(1, dims).int(2, dataType).string(8, name).bytes(9, raw);
}

function nodeProto(n: NodeSpec, name: string): Proto {
  const p = new Proto();
  for (const i of n.inputs) p.string(1, i);
  for (const o of n.outputs) p.string(2, o);
  p.string(3, name).string(4, n.opType);
  for (const [key, value] of Object.entries(n.attributes)) p.message(5, attributeProto(key, value));
  return p;
}

function attributeProto(name: string, a: Attribute): Proto {
  const p = new Proto().string(1, name);
  if ('int' in a) return p.int(3, a.int).int(20, ATTR_INT);
  if ('float' in a) return p.float(2, a.float).int(20, ATTR_FLOAT);
  if ('string' in a) return p.string(4, a.string).int(20, ATTR_STRING);
  return p.ints(8, a.ints).int(20, ATTR_INTS);
}

function valueInfoProto(v: TensorInfo): Proto {
  const shape = new Proto();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Proto().int(1, d) : new Proto().string(2, d));
  const tensorType = new Proto().int(1, v.type === 'uint8' ? UINT8 : v.type === 'int64' ? INT64 : FLOAT).message(2, shape);
  return new Proto().string(1, v.name).message(2, new Proto().message(1, tensorType));
}

function checkDims(dims: readonly Dim[], what: string): void {
  for (const d of dims) {
    if (typeof d === 'number' ? !(Number.isSafeInteger(d) && d >= 0) : d === '') throw shapeError(`${what}: bad dimension ${JSON.stringify(d)}`);
  }
}

function checkStaticDims(length: number, dims: readonly number[], what: string): void {
  checkDims(dims, what);
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw shapeError(`${what}: dims [${dims.join(', ')}] hold ${size} values, data has ${length}`);
}

function shapeError(message: string): TrajforgeError {
  return new TrajforgeError('E_MODEL_SHAPE', message);
}

function internal(message: string): TrajforgeError {
  return new TrajforgeError('E_INTERNAL', message);
}

// ---- reading back ------------------------------------------------------------------------

export interface ModelSummary {
  readonly irVersion: number;
  /** The default-domain ("" or "ai.onnx") opset version; 0 if none is imported. */
  readonly opset: number;
  readonly producerName: string;
  readonly graphName: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly initializerCount: number;
  readonly nodeCount: number;
  /** Distinct operator types, in order of first use. */
  readonly opTypes: readonly string[];
}

/** A summary of ModelProto bytes (any producer's), for inspect-style output. */
export function describeModel(bytes: Uint8Array): ModelSummary {
  const model = readFields(bytes);
  let opset = 0;
  for (const imported of readBytes(model, 8)) {
    const f = readFields(imported);
    const domain = readStrings(f, 1)[0] ?? '';
    if (domain === '' || domain === 'ai.onnx') opset = Number(readInts(f, 2)[0] ?? 0n);
  }
  const graphBytes = readBytes(model, 7)[0];
  if (graphBytes === undefined) throw shapeError('not an ONNX model: no graph');
  const graph = readFields(graphBytes);
  const opTypes: string[] = [];
  const nodes = readBytes(graph, 1);
  for (const node of nodes) {
    const op = readStrings(readFields(node), 4)[0] ?? '';
    if (!opTypes.includes(op)) opTypes.push(op);
  }
  return {
    irVersion: Number(readInts(model, 1)[0] ?? 0n),
    opset,
    producerName: readStrings(model, 2)[0] ?? '',
    graphName: readStrings(graph, 2)[0] ?? '',
    inputs: readValueInfos(graph, 11),
    outputs: readValueInfos(graph, 12),
    initializerCount: readBytes(graph, 5).length,
    nodeCount: nodes.length,
    opTypes,
  };
}

function readValueInfos(graph: readonly ProtoField[], field: number): TensorInfo[] {
  return readBytes(graph, field).map((bytes) => {
    const info = readFields(bytes);
    const dims: Dim[] = [];
    const type = readBytes(info, 2)[0];
    const tensorType = type && readBytes(readFields(type), 1)[0];
    const shape = tensorType && readBytes(readFields(tensorType), 2)[0];
    if (shape) {
      for (const dim of readBytes(readFields(shape), 1)) {
        const d = readFields(dim);
        const value = readInts(d, 1)[0];
        dims.push(value !== undefined ? Number(value) : (readStrings(d, 2)[0] ?? '?'));
      }
    }
    return { name: readStrings(info, 1)[0] ?? '', dims };
  });
}
