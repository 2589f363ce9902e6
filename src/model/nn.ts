/**
 * A small dense-network toolkit for CPU training in plain TypeScript: fully connected layers on
 * Float32Array batches, hand-written backward passes and Adam. Measured on the 2-core dev box, a
 * tfjs conv autoencoder trains at ~18 transitions/s; dense layers on compact inputs (a PCA stem)
 * train thousands of samples per second, so the world model is built from these.
 *
 * Layout: a layer maps x (n × inputs, row-major) to act(x·W + b) with W stored inputs × outputs
 * row-major, which is exactly ONNX Gemm(x, W, b) with transB = 0.
 */
import type { Rng } from '../core/rng.js';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'linear';

export interface Dense {
  readonly inputs: number;
  readonly outputs: number;
  /** inputs × outputs, row-major. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly activation: Activation;
}

export type Mlp = readonly Dense[];

/** He-initialised (ReLU) or Glorot-initialised (others) layers; sizes = [in, hidden..., out]. */
export function createMlp(sizes: readonly number[], hidden: Activation, output: Activation, rng: Rng): Dense[] {
  const layers: Dense[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inputs = sizes[l]!;
    const outputs = sizes[l + 1]!;
    const activation = l + 2 === sizes.length ? output : hidden;
    const scale = activation === 'relu' ? Math.sqrt(2 / inputs) : Math.sqrt(2 / (inputs + outputs));
    const weights = new Float32Array(inputs * outputs);
    for (let i = 0; i < weights.length; i++) weights[i] = rng.normal() * scale;
    layers.push({ inputs, outputs, weights, bias: new Float32Array(outputs), activation });
  }
  return layers;
}

/** y = act(x·W + b) for n rows. */
function denseForward(layer: Dense, x: Float32Array, n: number): Float32Array {
  const { inputs: ni, outputs: no, weights: w, bias: b } = layer;
  const y = new Float32Array(n * no);
  for (let r = 0; r < n; r++) {
    const yo = r * no;
    y.set(b, yo);
    const xo = r * ni;
    for (let i = 0; i < ni; i++) {
      const xv = x[xo + i]!;
      if (xv === 0) continue; // ReLU outputs are often exactly zero
      const wo = i * no;
      for (let o = 0; o < no; o++) y[yo + o]! += xv * w[wo + o]!;
    }
  }
  activateInPlace(y, layer.activation);
  return y;
}

function activateInPlace(y: Float32Array, activation: Activation): void {
  switch (activation) {
    case 'relu':
      for (let i = 0; i < y.length; i++) if (y[i]! < 0) y[i] = 0;
      break;
    case 'tanh':
      for (let i = 0; i < y.length; i++) y[i] = Math.tanh(y[i]!);
      break;
    case 'sigmoid':
      for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i]!));
      break;
    case 'linear':
      break;
  }
}

/** What backward needs: every layer's input and output. */
export interface Tape {
  readonly n: number;
  readonly values: Float32Array[];
}

export function forward(mlp: Mlp, x: Float32Array, n: number): { y: Float32Array; tape: Tape } {
  const values = [x];
  let h = x;
  for (const layer of mlp) {
    h = denseForward(layer, h, n);
    values.push(h);
  }
  return { y: h, tape: { n, values } };
}

/** Inference only: no tape kept. */
export function apply(mlp: Mlp, x: Float32Array, n: number): Float32Array {
  let h = x;
  for (const layer of mlp) h = denseForward(layer, h, n);
  return h;
}

/** Gradient buffers shaped like an MLP's parameters. */
export interface LayerGrads {
  readonly weights: Float32Array;
  readonly bias: Float32Array;
}

export function zeroGrads(mlp: Mlp): LayerGrads[] {
  return mlp.map((l) => ({ weights: new Float32Array(l.weights.length), bias: new Float32Array(l.bias.length) }));
}

export function clearGrads(grads: readonly LayerGrads[]): void {
  for (const g of grads) {
    g.weights.fill(0);
    g.bias.fill(0);
  }
}

/**
 * Accumulates dLoss/dParams into grads and returns dLoss/dInput. dy is the gradient with respect
 * to the MLP's output (after the last activation); it is not modified.
 */
export function backward(mlp: Mlp, tape: Tape, dy: Float32Array, grads: readonly LayerGrads[]): Float32Array {
  const n = tape.n;
  let delta = Float32Array.from(dy);
  for (let l = mlp.length - 1; l >= 0; l--) {
    const layer = mlp[l]!;
    const { inputs: ni, outputs: no, weights: w } = layer;
    const out = tape.values[l + 1]!;
    const x = tape.values[l]!;
    // Through the activation, using its output.
    switch (layer.activation) {
      case 'relu':
        for (let i = 0; i < delta.length; i++) if (out[i]! <= 0) delta[i] = 0;
        break;
      case 'tanh':
        for (let i = 0; i < delta.length; i++) delta[i]! *= 1 - out[i]! * out[i]!;
        break;
      case 'sigmoid':
        for (let i = 0; i < delta.length; i++) delta[i]! *= out[i]! * (1 - out[i]!);
        break;
      case 'linear':
        break;
    }
    const g = grads[l]!;
    const gw = g.weights;
    const gb = g.bias;
    const dx = new Float32Array(n * ni);
    for (let r = 0; r < n; r++) {
      const dro = r * no;
      for (let o = 0; o < no; o++) gb[o]! += delta[dro + o]!;
      const xo = r * ni;
      for (let i = 0; i < ni; i++) {
        const xv = x[xo + i]!;
        const wo = i * no;
        let s = 0;
        if (xv !== 0) {
          for (let o = 0; o < no; o++) {
            const d = delta[dro + o]!;
            gw[wo + o]! += xv * d;
            s += d * w[wo + o]!;
          }
        } else {
          for (let o = 0; o < no; o++) s += delta[dro + o]! * w[wo + o]!;
        }
        dx[xo + i] = s;
      }
    }
    delta = dx;
  }
  return delta;
}

/** Adam (Kingma & Ba) over a fixed list of parameter arrays, optional global-norm clipping. */
export class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(
    private readonly params: readonly Float32Array[],
    public learningRate = 1e-3,
    private readonly clipNorm = 0,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }

  step(grads: readonly Float32Array[]): void {
    this.t++;
    let scale = 1;
    if (this.clipNorm > 0) {
      let sq = 0;
      for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
      const norm = Math.sqrt(sq);
      if (norm > this.clipNorm) scale = this.clipNorm / norm;
    }
    const { beta1: b1, beta2: b2, epsilon } = this;
    const lr = (this.learningRate * Math.sqrt(1 - b2 ** this.t)) / (1 - b1 ** this.t);
    for (let p = 0; p < this.params.length; p++) {
      const param = this.params[p]!;
      const g = grads[p]!;
      const m = this.m[p]!;
      const v = this.v[p]!;
      for (let i = 0; i < param.length; i++) {
        const gi = g[i]! * scale;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        param[i]! -= (lr * m[i]!) / (Math.sqrt(v[i]!) + epsilon);
      }
    }
  }
}

/** Parameter and gradient arrays of several MLPs in one matching order, for an optimiser. */
export function parameterList(mlps: readonly Mlp[]): Float32Array[] {
  return mlps.flatMap((m) => m.flatMap((l) => [l.weights, l.bias]));
}

export function gradientList(grads: readonly (readonly LayerGrads[])[]): Float32Array[] {
  return grads.flatMap((g) => g.flatMap((l) => [l.weights, l.bias]));
}
