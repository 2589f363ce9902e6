/**
 * Reverse-mode differentiation written out as ONNX nodes: a Tape records the forward ops of a
 * network on an OnnxGraph, and `gradients` appends the backward pass (and `adam` the optimiser
 * step) to the same graph. The whole training step is then one onnxruntime session: MLAS kernels
 * on the CPU, the CUDA provider on a GPU, no autodiff library in JavaScript.
 *
 * Only what the convolutional world model trains through is here, each op with its gradient:
 *   Conv / ConvTranspose (square kernels, equal strides and pads), Gemm with bias, Relu, Elu,
 *   Sigmoid, Tanh, Add, Sub, Mul, scalar scaling, Concat, Slice, Reshape, Transpose, Softmax,
 *   Gaussian keypoint maps, mean squared error and binary cross-entropy on logits.
 * Convolution gradients are convolutions themselves: for y = Conv(x, W, stride s, pad p),
 * dx = ConvTranspose(dy, W) and dW = Conv(xᵀ, dyᵀ, dilation s) with batch and channels swapped;
 * ConvTranspose swaps the roles. Shapes are tracked statically except the batch, which stays
 * symbolic, so one graph serves any batch size.
 */
import { TrajforgeError } from '../../core/errors.js';
import { OnnxGraph, type Dim } from './graph.js';

export type Shape = readonly Dim[];

/** A recorded op's gradient rule: dy -> one gradient per input (null where none flows). */
type Backward = (dy: string) => (string | null)[];

interface Recorded {
  readonly output: string;
  readonly inputs: readonly string[];
  readonly backward: Backward;
}

export interface ConvOptions {
  stride: number;
  pad: number;
}

export class Tape {
  readonly graph: OnnxGraph;
  private readonly shapes = new Map<string, Shape>();
  private readonly differentiable = new Set<string>();
  private readonly ops: Recorded[] = [];
  /** Trainable inputs in declaration order: name -> shape. */
  readonly params = new Map<string, readonly number[]>();

  constructor(name: string) {
    this.graph = new OnnxGraph(name);
  }

  shape(x: string): Shape {
    const s = this.shapes.get(x);
    if (!s) throw internal(`unknown tensor '${x}'`);
    return s;
  }

  /** Records the shape of a tensor made directly on the graph (no gradient flows through it); returns x. */
  declare(x: string, dims: Shape): string {
    this.shapes.set(x, dims);
    return x;
  }

  /** A float32 input that gets no gradient (data, targets, constants fed per step). */
  input(name: string, dims: Shape): string {
    this.graph.input(name, dims);
    this.shapes.set(name, dims);
    return name;
  }

  /** A trainable float32 input (weights fed in, updated weights out). */
  param(name: string, dims: readonly number[]): string {
    this.graph.input(name, dims);
    this.shapes.set(name, dims);
    this.params.set(name, dims);
    this.differentiable.add(name);
    return name;
  }

  /** A float32 constant. */
  constant(data: Float32Array, dims: readonly number[]): string {
    const name = this.graph.initializer(this.fresh('const'), data, dims);
    this.shapes.set(name, dims);
    return name;
  }

  // ---- ops -------------------------------------------------------------------------------

  /** Conv with bias; x [N, C, H, W], w [O, C, k, k], b [O]. */
  conv(x: string, w: string, b: string, o: ConvOptions): string {
    const [n, , h, wd] = this.shape(x);
    const [out, , k] = this.shape(w) as number[];
    const size = (d: Dim) => Math.floor(((d as number) + 2 * o.pad - k!) / o.stride) + 1;
    const attrs = convAttrs(k!, o);
    const y = this.graph.node('Conv', [x, w, b], attrs);
    const ho = size(h!);
    const wo = size(wd!);
    return this.record(y, [n!, out!, ho, wo], [x, w, b], (dy) => {
      const g = this.graph;
      const dx = this.needs(x) ? g.node('ConvTranspose', [dy, w], { ...attrs, output_padding: { ints: outputPadding([h as number, wd as number], [ho, wo], k!, o) } }) : null;
      // dW[o, c] = Σ_n x[n, c] ⋆ dy[n, o].
      return [dx, this.kernelGradient(x, this.shape(x), dy, [n!, out!, ho, wo], k!, o), this.reduceSum(dy, [0, 2, 3])];
    });
  }

  /** ConvTranspose with bias; x [N, C, H, W], w [C, O, k, k], b [O]; output size stride·H (pads chosen so). */
  convTranspose(x: string, w: string, b: string, o: ConvOptions): string {
    const [n, , h, wd] = this.shape(x);
    const [, out, k] = this.shape(w) as number[];
    const size = (d: Dim) => ((d as number) - 1) * o.stride - 2 * o.pad + k!;
    const attrs = convAttrs(k!, o);
    const y = this.graph.node('ConvTranspose', [x, w, b], attrs);
    const ho = size(h!);
    const wo = size(wd!);
    return this.record(y, [n!, out!, ho, wo], [x, w, b], (dy) => {
      const g = this.graph;
      const dx = this.needs(x) ? g.node('Conv', [dy, w], attrs) : null;
      // dW[c, o] = Σ_n dy[n, o] ⋆ x[n, c]: the input's role and the kernel's swap compared with Conv.
      return [dx, this.kernelGradient(dy, [n!, out!, ho, wo], x, this.shape(x), k!, o), this.reduceSum(dy, [0, 2, 3])];
    });
  }

  /** x·W + b; x [N, I], w [I, O], b [O]. */
  dense(x: string, w: string, b: string): string {
    const [n] = this.shape(x);
    const [, out] = this.shape(w) as number[];
    const y = this.graph.node('Gemm', [x, w, b]);
    return this.record(y, [n!, out!], [x, w, b], (dy) => {
      const g = this.graph;
      return [this.needs(x) ? g.node('Gemm', [dy, w], { transB: { int: 1 } }) : null, g.node('Gemm', [x, dy], { transA: { int: 1 } }), this.reduceSum(dy, [0])];
    });
  }

  relu(x: string): string {
    const y = this.graph.node('Relu', [x]);
    return this.record(y, this.shape(x), [x], (dy) => [this.graph.mul(dy, this.cast(this.graph.node('Greater', [y, this.zero()])))]);
  }

  /**
   * ELU (alpha 1): smooth where ReLU units die. Written as max(x, e^min(x, 0) - 1), which is ELU
   * exactly (e^x - 1 >= x everywhere): onnxruntime's Elu kernel computes e^x one element at a
   * time (~1.9 ns an element on this machine class), its Exp is vectorised, and the four
   * elementwise ops together take a third to a half of Elu's time.
   */
  elu(x: string): string {
    const g = this.graph;
    const y = g.node('Max', [x, g.sub(g.node('Exp', [g.node('Min', [x, this.zero()])]), this.one())]);
    return this.record(y, this.shape(x), [x], (dy) => {
      // 1 where y > 0, else e^x = y + 1: min(y, 0) + 1 in two cheap ops.
      return [g.mul(dy, g.add(g.node('Min', [y, this.zero()]), this.one()))];
    });
  }

  sigmoid(x: string): string {
    const y = this.graph.sigmoid(x);
    return this.record(y, this.shape(x), [x], (dy) => [this.graph.mul(dy, this.graph.mul(y, this.graph.sub(this.one(), y)))]);
  }

  tanh(x: string): string {
    const y = this.graph.node('Tanh', [x]);
    return this.record(y, this.shape(x), [x], (dy) => [this.graph.mul(dy, this.graph.sub(this.one(), this.graph.mul(y, y)))]);
  }

  add(a: string, b: string): string {
    this.sameShape('add', a, b);
    return this.record(this.graph.add(a, b), this.shape(a), [a, b], (dy) => [dy, dy]);
  }

  sub(a: string, b: string): string {
    this.sameShape('sub', a, b);
    return this.record(this.graph.sub(a, b), this.shape(a), [a, b], (dy) => [dy, this.needs(b) ? this.graph.node('Neg', [dy]) : null]);
  }

  mul(a: string, b: string): string {
    this.sameShape('mul', a, b);
    return this.record(this.graph.mul(a, b), this.shape(a), [a, b], (dy) => [this.needs(a) ? this.graph.mul(dy, b) : null, this.needs(b) ? this.graph.mul(dy, a) : null]);
  }

  /** c · x for a constant c. */
  scale(x: string, c: number): string {
    const k = this.scalar(c);
    return this.record(this.graph.mul(x, k), this.shape(x), [x], (dy) => [this.graph.mul(dy, k)]);
  }

  /** The value without its gradient (a target computed from trained tensors). */
  stopGradient(x: string): string {
    const y = this.graph.node('Identity', [x]);
    this.shapes.set(y, this.shape(x));
    return y;
  }

  concat(xs: readonly string[], axis: number): string {
    const shapes = xs.map((x) => this.shape(x));
    const sizes = shapes.map((s) => s[axis] as number);
    const out = [...shapes[0]!];
    out[axis] = sizes.reduce((a, b) => a + b, 0);
    const y = this.graph.concat(xs, axis);
    return this.record(y, out, xs, (dy) => {
      const split = this.graph.int64Initializer(this.fresh('split'), sizes, [sizes.length]);
      const parts = xs.map((_, i) => this.fresh(`split_out${i}`));
      this.graph.nodeWithOutputs('Split', [dy, split], parts, { axis: { int: axis } });
      return parts;
    });
  }

  /** x[..., from:to, ...] along one axis. */
  slice(x: string, from: number, to: number, axis: number): string {
    const s = this.shape(x);
    const out = [...s];
    out[axis] = to - from;
    const y = this.graph.slice(x, [from], [to], [axis]);
    return this.record(y, out, [x], (dy) => {
      const pads = new Array<number>(s.length * 2).fill(0);
      pads[axis] = from;
      pads[s.length + axis] = (s[axis] as number) - to;
      return [this.graph.node('Pad', [dy, this.graph.int64Initializer(this.fresh('pads'), pads, [pads.length])])];
    });
  }

  /** Reshape to a static shape whose first entry may be -1 (the batch). */
  reshape(x: string, dims: readonly number[], shape: Shape): string {
    const y = this.graph.reshape(x, dims);
    return this.record(y, shape, [x], (dy) => [this.graph.node('Reshape', [dy, this.graph.node('Shape', [x])])]);
  }

  transpose(x: string, perm: readonly number[]): string {
    const s = this.shape(x);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const y = this.graph.node('Transpose', [x], { perm: { ints: perm } });
    return this.record(
      y,
      perm.map((p) => s[p]!),
      [x],
      (dy) => [this.graph.node('Transpose', [dy], { perm: { ints: inverse } })],
    );
  }

  /** Softmax along the last axis. dx = y ⊙ (dy − Σ dy ⊙ y). */
  softmax(x: string): string {
    const s = this.shape(x);
    const y = this.graph.node('Softmax', [x], { axis: { int: s.length - 1 } });
    return this.record(y, s, [x], (dy) => {
      const g = this.graph;
      const axes = g.int64Initializer(this.fresh('axes'), [s.length - 1], [1]);
      const dot = g.node('ReduceSum', [g.mul(dy, y), axes], { keepdims: { int: 1 } });
      return [g.mul(y, g.sub(dy, dot))];
    });
  }

  /** Σ over one axis, which the result drops. dx = dy broadcast back along that axis. */
  sum(x: string, axis: number): string {
    const s = this.shape(x);
    const y = this.reduceSum(x, [axis]);
    return this.record(
      y,
      s.filter((_, i) => i !== axis),
      [x],
      (dy) => {
        const g = this.graph;
        const unsqueezed = g.node('Unsqueeze', [dy, g.int64Initializer(this.fresh('axes'), [axis], [1])]);
        return [g.node('Expand', [unsqueezed, g.node('Shape', [x])])];
      },
    );
  }

  /** x · B for a constant matrix B [P, Q] over x's last axis (x [..., P] -> [..., Q]). */
  matmulConstant(x: string, b: Float32Array, p: number, q: number): string {
    const s = this.shape(x);
    const bt = new Float32Array(q * p);
    for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) bt[j * p + i] = b[i * q + j]!;
    const B = this.constant(b, [p, q]);
    const Bt = this.constant(bt, [q, p]);
    const y = this.graph.node('MatMul', [x, B]);
    return this.record(y, [...s.slice(0, -1), q], [x], (dy) => [this.graph.node('MatMul', [dy, Bt])]);
  }

  /**
   * Gaussian maps of keypoints: kp [N, 2K] (x, y of each keypoint, in [-1, 1], interleaved) ->
   * [N, K, h, w], map k = exp(-((u - x_k)² + (v - y_k)²) / (2σ²)) over the pixel centres (u, v)
   * of an h × w grid in [-1, 1]. The maps are separable, ey ⊗ ex, so the forward pass and the
   * gradient are broadcasts and sums over one axis.
   */
  gaussianMaps(kp: string, keypoints: number, height: number, width: number, sigma: number): string {
    const g = this.graph;
    const n = this.shape(kp)[0]!;
    const K = keypoints;
    const gx = this.constant(pixelCentres(width), [1, 1, 1, width]);
    const gy = this.constant(pixelCentres(height), [1, 1, height, 1]);
    const pairs = g.reshape(kp, [-1, K, 2, 1]);
    const x = g.reshape(g.slice(pairs, [0], [1], [2]), [-1, K, 1, 1]);
    const y = g.reshape(g.slice(pairs, [1], [2], [2]), [-1, K, 1, 1]);
    const k = this.scalar(-1 / (2 * sigma * sigma));
    const dxg = g.sub(gx, x); // [N, K, 1, w]
    const dyg = g.sub(gy, y); // [N, K, h, 1]
    // Exponents floored at -40: far from its keypoint a map is ~1e-18 instead of a subnormal
    // float (or a product of two small factors that is one), which the convolution kernels
    // multiply at a fraction of their speed (measured: the decoder 620 -> 2,896 frames/s, the
    // training step 330 -> 242 ms on 2 threads). The gradient there was ~1e-18 and stays so.
    const floor = this.scalar(-40);
    const ex = g.node('Exp', [g.node('Max', [g.mul(g.mul(dxg, dxg), k), floor])]);
    const ey = g.node('Exp', [g.node('Max', [g.mul(g.mul(dyg, dyg), k), floor])]);
    const maps = g.mul(ey, ex);
    return this.record(maps, [n, K, height, width], [kp], (dm) => {
      // d/dx_k = Σ_u,v dm · ey(v) · ex(u) · (u - x_k) / σ², likewise for y_k.
      const inv = this.scalar(1 / (sigma * sigma));
      const axes = (a: number[]) => g.int64Initializer(this.fresh('axes'), a, [a.length]);
      const sum = (t: string, a: number[]) => g.node('ReduceSum', [t, axes(a)], { keepdims: { int: 1 } });
      const weighted = g.mul(dm, maps);
      const dx = g.mul(sum(g.mul(sum(weighted, [2]), dxg), [3]), inv); // [N, K, 1, 1]
      const dy = g.mul(sum(g.mul(sum(weighted, [3]), dyg), [2]), inv);
      return [g.reshape(g.concat([g.reshape(dx, [-1, K, 1]), g.reshape(dy, [-1, K, 1])], 2), [-1, 2 * K])];
    });
  }

  /** mean((a - b)²) over every element, or mean(w · (a - b)²) with constant weights w that broadcast to a's shape: a scalar. */
  mse(a: string, b: string, weights?: string): string {
    this.sameShape('mse', a, b);
    const g = this.graph;
    const d = g.sub(a, b);
    const wd = weights === undefined ? d : g.mul(d, weights);
    const y = g.node('ReduceMean', [g.mul(wd, d)], { keepdims: { int: 0 } });
    return this.record(y, [], [a, b], (dy) => {
      const k = g.mul(dy, g.node('Div', [this.scalar(2), this.count(d)]));
      const da = g.mul(wd, k);
      return [this.needs(a) ? da : null, this.needs(b) ? g.node('Neg', [da]) : null];
    });
  }

  /** mean(softplus(l) - y·l): binary cross-entropy of logits l against 0/1 targets y (no gradient to y). */
  bceWithLogits(logits: string, targets: string): string {
    this.sameShape('bce', logits, targets);
    const g = this.graph;
    const y = g.node('ReduceMean', [g.sub(g.node('Softplus', [logits]), g.mul(targets, logits))], { keepdims: { int: 0 } });
    return this.record(y, [], [logits], (dy) => [g.mul(g.sub(g.sigmoid(logits), targets), g.node('Div', [dy, this.count(logits)]))]);
  }

  /** Σ wᵢ·lossᵢ of scalar losses. */
  weightedSum(terms: readonly (readonly [string, number])[]): string {
    let total: string | null = null;
    for (const [loss, w] of terms) {
      const t = this.scale(loss, w);
      total = total === null ? t : this.add(t, total);
    }
    if (total === null) throw internal('weightedSum of nothing');
    return total;
  }

  // ---- backward and update ----------------------------------------------------------------

  /** Appends the backward pass of the scalar `loss`; returns d loss / d param for every param (zeros where none flows). */
  gradients(loss: string): Map<string, string> {
    const g = this.graph;
    const grads = new Map<string, string>([[loss, this.scalar(1)]]);
    for (let i = this.ops.length - 1; i >= 0; i--) {
      const op = this.ops[i]!;
      const dy = grads.get(op.output);
      if (dy === undefined) continue;
      const dxs = op.backward(dy);
      op.inputs.forEach((x, k) => {
        const dx = dxs[k];
        if (dx === null || dx === undefined || !this.differentiable.has(x)) return;
        const prev = grads.get(x);
        grads.set(x, prev === undefined ? dx : g.add(prev, dx));
      });
    }
    const out = new Map<string, string>();
    for (const [p, dims] of this.params) {
      out.set(p, grads.get(p) ?? this.constant(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims));
    }
    return out;
  }

  /**
   * Appends one Adam step: inputs `<p>.m`, `<p>.v` and the scalar `lr` (the learning rate with
   * Adam's bias corrections folded in, fed per step); outputs `<p>.next`, `<p>.m.next`, `<p>.v.next`.
   * Gradients are clipped by their global norm first (DreamerV3 clips too; early conv steps spike).
   */
  adam(grads: Map<string, string>, o: { beta1: number; beta2: number; epsilon: number; clipNorm: number }): void {
    const g = this.graph;
    const lr = this.input('lr', []);
    let sq: string | null = null;
    for (const d of grads.values()) {
      const s = g.node('ReduceSum', [g.mul(d, d)], { keepdims: { int: 0 } });
      sq = sq === null ? s : g.add(sq, s);
    }
    const norm = g.node('Sqrt', [sq!]);
    g.output(norm, 'grad_norm', []);
    const factor = g.node('Min', [this.scalar(1), g.node('Div', [this.scalar(o.clipNorm), g.node('Max', [norm, this.scalar(1e-12)])])]);
    for (const [p, d] of grads) {
      const dims = this.params.get(p)!;
      const m = this.input(`${p}.m`, dims);
      const v = this.input(`${p}.v`, dims);
      const clipped = g.mul(d, factor);
      const m1 = g.add(g.mul(m, this.scalar(o.beta1)), g.mul(clipped, this.scalar(1 - o.beta1)));
      const v1 = g.add(g.mul(v, this.scalar(o.beta2)), g.mul(g.mul(clipped, clipped), this.scalar(1 - o.beta2)));
      const step = g.node('Div', [g.mul(m1, lr), g.add(g.node('Sqrt', [v1]), this.scalar(o.epsilon))]);
      g.output(g.sub(p, step), `${p}.next`, dims);
      g.output(m1, `${p}.m.next`, dims);
      g.output(v1, `${p}.v.next`, dims);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private record(y: string, shape: Shape, inputs: readonly string[], backward: Backward): string {
    this.shapes.set(y, shape);
    if (inputs.some((x) => this.differentiable.has(x))) {
      this.differentiable.add(y);
      this.ops.push({ output: y, inputs, backward });
    }
    return y;
  }

  /**
   * The weight gradient shared by Conv and ConvTranspose, [narrow channels, wide channels, k, k]:
   * dW[o, c, i, j] = Σ_n Σ_(y,x) narrow[n, o, y, x] · widePadded[n, c, s·y + i, s·x + j].
   *
   * Two ways to compute it, each where it is faster (one thread, the conv model's layers; README,
   * training engine):
   * - stride 1: the k² shifted slices of the padded wide map, stacked on the channel axis, make an
   *   im2col matrix per sample; one batched MatMul with the narrow map sums over the positions and
   *   a ReduceSum over the batch (a 1×1 conv at 80 × 16 × 64 × 64: 6.6 ms against 42.6 ms as a Conv);
   * - stride 2 and more: a Conv with batch and channels swapped, dilated by the stride, sliced to
   *   k where the stride rounded the wide map (k4 s2, 8 -> 16 channels at 64 × 64: 13.5 ms against
   *   25.2 ms through im2col, whose strided copies cost more than the Conv).
   */
  private kernelGradient(wide: string, wideShape: Shape, narrow: string, narrowShape: Shape, k: number, o: ConvOptions): string {
    const g = this.graph;
    const [, wideChannels, wideH, wideW] = wideShape as number[];
    const [, narrowChannels, narrowH, narrowW] = narrowShape as number[];
    if (o.stride > 1) {
      const swap = (t: string) => g.node('Transpose', [t], { perm: { ints: [1, 0, 2, 3] } });
      let dw = g.node('Conv', [swap(wide), swap(narrow)], { pads: { ints: [o.pad, o.pad, o.pad, o.pad] }, dilations: { ints: [o.stride, o.stride] } });
      const rounded = [wideH!, wideW!].some((size, axis) => size + 2 * o.pad - o.stride * ([narrowH!, narrowW!][axis]! - 1) !== k);
      if (rounded) dw = g.slice(dw, [0, 0], [k, k], [2, 3]);
      return swap(dw);
    }
    const padded = o.pad > 0 ? g.node('Pad', [wide, g.int64Initializer(this.fresh('pads'), [0, 0, o.pad, o.pad, 0, 0, o.pad, o.pad], [8])]) : wide;
    const taps: string[] = [];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) taps.push(k === 1 && wideH === narrowH && wideW === narrowW ? padded : g.slice(padded, [i, j], [i + narrowH!, j + narrowW!], [2, 3]));
    }
    const P = narrowH! * narrowW!;
    const columns = g.reshape(taps.length === 1 ? taps[0]! : g.concat(taps, 1), [0, k * k * wideChannels!, P]);
    const narrowT = g.node('Transpose', [g.reshape(narrow, [0, narrowChannels!, P])], { perm: { ints: [0, 2, 1] } });
    const summed = this.reduceSum(g.node('MatMul', [columns, narrowT]), [0]);
    return g.node('Transpose', [g.reshape(summed, [k, k, wideChannels!, narrowChannels!])], { perm: { ints: [3, 2, 0, 1] } });
  }

  private needs(x: string): boolean {
    return this.differentiable.has(x);
  }

  private sameShape(op: string, a: string, b: string): void {
    const sa = this.shape(a).join(',');
    const sb = this.shape(b).join(',');
    if (sa !== sb) throw internal(`${op}: shapes [${sa}] and [${sb}] differ`);
  }

  private reduceSum(x: string, axes: readonly number[]): string {
    const a = this.graph.int64Initializer(this.fresh('axes'), axes, [axes.length]);
    return this.graph.node('ReduceSum', [x, a], { keepdims: { int: 0 } });
  }

  /** The element count of x as a float scalar (the batch is only known at run time). */
  private count(x: string): string {
    return this.graph.node('Cast', [this.graph.node('Size', [x])], { to: { int: 1 } });
  }

  private cast(x: string): string {
    return this.graph.node('Cast', [x], { to: { int: 1 } });
  }

  private readonly scalars = new Map<number, string>();
  private scalar(v: number): string {
    let s = this.scalars.get(v);
    if (s === undefined) {
      s = this.constant(Float32Array.of(v), []);
      this.scalars.set(v, s);
    }
    return s;
  }

  private zero(): string {
    return this.scalar(0);
  }

  private one(): string {
    return this.scalar(1);
  }

  private counter = 0;
  private fresh(base: string): string {
    return `tape_${base}_${this.counter++}`;
  }
}

/** The centre of each of `count` cells along an axis, in [-1, 1]: the frame coordinates keypoints use. */
export function pixelCentres(count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => ((i + 0.5) / count) * 2 - 1);
}

function convAttrs(k: number, o: ConvOptions) {
  return { kernel_shape: { ints: [k, k] }, strides: { ints: [o.stride, o.stride] }, pads: { ints: [o.pad, o.pad, o.pad, o.pad] } };
}

/** ConvTranspose's output_padding that restores the Conv input size the stride rounded away. */
function outputPadding(input: [number, number], output: [number, number], k: number, o: ConvOptions): number[] {
  return input.map((size, i) => size - ((output[i]! - 1) * o.stride - 2 * o.pad + k));
}

function internal(message: string): TrajforgeError {
  return new TrajforgeError('E_INTERNAL', `autodiff: ${message}`);
}
