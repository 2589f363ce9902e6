import { describe, expect, it } from 'vitest';
import { Tape } from '../../../src/model/onnx/autodiff.js';
import { OnnxModel } from '../../../src/model/onnx/runtime.js';
import { Rng } from '../../../src/core/rng.js';

/**
 * Every op's gradient, as onnxruntime computes it from the graph the tape writes, against central
 * finite differences of the same graph's loss. Float32 forward passes limit the differences'
 * precision, so values are compared with a relative tolerance on the larger entries.
 */

type Build = (t: Tape, param: (name: string, dims: number[]) => string) => string;

async function check(build: Build, inputs: Record<string, { dims: number[] }> = {}, tolerance = 0.03, every = false): Promise<void> {
  const rng = new Rng(7);
  const tape = new Tape('gradcheck');
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [name, { dims }] of Object.entries(inputs)) {
    tape.input(name, dims);
    feeds[name] = { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()), dims };
  }
  const param = (name: string, dims: number[]) => {
    feeds[name] = { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.5), dims };
    return tape.param(name, dims);
  };
  const loss = build(tape, param);
  const grads = tape.gradients(loss);
  tape.graph.output(loss, 'loss', []);
  for (const [p, g] of grads) tape.graph.output(g, `grad.${p}`, tape.params.get(p)!);
  const model = await OnnxModel.load(tape.graph.toBytes());
  try {
    const out = await model.run(feeds);
    const lossAt = async () => (await model.run(feeds, ['loss'])).loss!.data[0]!;
    for (const p of tape.params.keys()) {
      const analytic = out[`grad.${p}`]!.data as Float32Array;
      const values = feeds[p]!.data;
      // A few entries per parameter (finite differences cost two runs each), or all of them.
      const picks = every ? values.map((_, i) => i) : [...new Set([0, values.length - 1, Math.floor(values.length / 2), Math.floor(values.length / 3)])];
      let scale = 0;
      for (const v of analytic) scale = Math.max(scale, Math.abs(v));
      for (const i of picks) {
        const h = 1e-2;
        const keep = values[i]!;
        values[i] = keep + h;
        const up = await lossAt();
        values[i] = keep - h;
        const down = await lossAt();
        values[i] = keep;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(numeric - analytic[i]!), `${p}[${i}]: numeric ${numeric}, analytic ${analytic[i]}`).toBeLessThan(tolerance * Math.max(scale, 1e-3) + 1e-4);
      }
    }
  } finally {
    await model.release();
  }
}

describe('autodiff: gradients agree with finite differences', () => {
  it('Conv (k4 s2 p1) with bias, then a pixel-weighted mse', async () => {
    await check(
      (t, p) => {
        const y = t.conv('x', p('w', [3, 2, 4, 4]), p('b', [3]), { stride: 2, pad: 1 });
        const pixelWeights = t.constant(Float32Array.from({ length: 16 }, (_, i) => 0.2 + i / 8), [1, 1, 4, 4]);
        return t.mse(y, t.constant(new Float32Array(2 * 3 * 4 * 4).fill(0.1), [2, 3, 4, 4]), pixelWeights);
      },
      { x: { dims: [2, 2, 8, 8] } },
    );
  });

  it('Conv whose stride does not divide the padded input (k3 s2 p1 on 7x7), gradient into the input', async () => {
    await check(
      (t, p) => {
        const x = t.relu(t.conv('x', p('w0', [2, 2, 1, 1]), p('b0', [2]), { stride: 1, pad: 0 }));
        const y = t.conv(x, p('w', [3, 2, 3, 3]), p('b', [3]), { stride: 2, pad: 1 });
        return t.mse(y, t.constant(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]));
      },
      { x: { dims: [2, 2, 7, 7] } },
    );
  });

  it('ConvTranspose (k4 s2 p1), gradient into its input', async () => {
    await check(
      (t, p) => {
        const x = t.elu(t.conv('x', p('w0', [2, 2, 1, 1]), p('b0', [2]), { stride: 1, pad: 0 }));
        const y = t.convTranspose(x, p('w', [2, 3, 4, 4]), p('b', [3]), { stride: 2, pad: 1 });
        return t.mse(t.sigmoid(y), t.constant(new Float32Array(2 * 3 * 8 * 8).fill(0.3), [2, 3, 8, 8]));
      },
      { x: { dims: [2, 2, 4, 4] } },
    );
  });

  // Every kernel entry: a tap or channel order mixed up in the weight gradient shows in some entry, not necessarily in four.
  // Both ways of computing it: strided (a dilated Conv) and stride 1 (im2col), on non-square inputs.
  const layers = [
    { name: 'Conv k3 s2 p1 on 5x8', op: 'conv', w: [3, 2, 3, 3], stride: 2, pad: 1, x: [2, 2, 5, 8], y: [2, 3, 3, 4] },
    { name: 'ConvTranspose k4 s2 p1 on 3x5', op: 'convTranspose', w: [2, 3, 4, 4], stride: 2, pad: 1, x: [2, 2, 3, 5], y: [2, 3, 6, 10] },
    { name: 'Conv k3 s1 p1 on 5x7', op: 'conv', w: [2, 3, 3, 3], stride: 1, pad: 1, x: [2, 3, 5, 7], y: [2, 2, 5, 7] },
    { name: 'Conv k1 on 4x6', op: 'conv', w: [3, 4, 1, 1], stride: 1, pad: 0, x: [2, 4, 4, 6], y: [2, 3, 4, 6] },
  ] as const;
  for (const l of layers) {
    it(`${l.name}, every kernel entry`, async () => {
      await check(
        (t, p) => {
          const out = l.op === 'conv' ? l.w[0] : l.w[1];
          const y = t[l.op]('x', p('w', [...l.w]), p('b', [out]), { stride: l.stride, pad: l.pad });
          return t.mse(y, t.constant(Float32Array.from({ length: l.y.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(3 * i)), [...l.y]));
        },
        { x: { dims: [...l.x] } },
        0.03,
        true,
      );
    });
  }

  it('dense layers, tanh, concat, slice, reshape, transpose, add / sub / mul / scale', async () => {
    await check(
      (t, p) => {
        const flat = t.reshape(t.transpose('x', [0, 2, 3, 1]), [-1, 12], ['batch', 12]);
        const h = t.tanh(t.dense(flat, p('w1', [12, 6]), p('b1', [6])));
        const c = t.concat([h, 'a'], 1);
        const y = t.dense(c, p('w2', [8, 5]), p('b2', [5]));
        const left = t.slice(y, 0, 3, 1);
        const right = t.slice(y, 2, 5, 1);
        const mixed = t.add(t.mul(left, right), t.scale(t.sub(left, right), 0.5));
        return t.mse(mixed, t.stopGradient(t.scale(right, 0.1)));
      },
      { x: { dims: [3, 3, 2, 2] }, a: { dims: [3, 2] } },
    );
  });

  it('spatial soft-argmax: a 1x1 conv, softmax over the pixels, expected coordinates by a constant matmul', async () => {
    await check(
      (t, p) => {
        const maps = t.conv('x', p('w', [3, 2, 1, 1]), p('b', [3]), { stride: 1, pad: 0 });
        const flat = t.reshape(maps, [-1, 3, 16], [2, 3, 16]);
        const grid = Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? (Math.floor(i / 2) % 4) / 3 : Math.floor(i / 8) / 3));
        const xy = t.matmulConstant(t.softmax(flat), grid, 16, 2);
        return t.mse(t.reshape(xy, [-1, 6], [2, 6]), t.constant(Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 4), [2, 6]));
      },
      { x: { dims: [2, 2, 4, 4] } },
    );
  });

  it('spatial soft-argmax by marginals: softmax over the pixels, a sum over rows or columns, a [w, 1] product', async () => {
    await check(
      (t, p) => {
        const maps = t.conv('x', p('w', [3, 2, 1, 1]), p('b', [3]), { stride: 1, pad: 0 });
        const probabilities = t.reshape(t.softmax(t.reshape(maps, [-1, 3, 20], [2, 3, 20])), [-1, 3, 4, 5], [2, 3, 4, 5]);
        const xs = t.matmulConstant(t.sum(probabilities, 2), Float32Array.of(-1, -0.5, 0, 0.5, 1), 5, 1);
        const ys = t.matmulConstant(t.sum(probabilities, 3), Float32Array.of(-0.75, -0.25, 0.25, 0.75), 4, 1);
        const xy = t.reshape(t.concat([xs, ys], 2), [-1, 6], [2, 6]);
        return t.mse(xy, t.constant(Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 4 - 0.5), [2, 6]));
      },
      { x: { dims: [2, 2, 4, 5] } },
    );
  });

  it('Gaussian keypoint maps (separable, 6x8 grid), gradient into the keypoint coordinates', async () => {
    await check(
      (t, p) => {
        // tanh keeps the keypoints inside the frame, where the maps have something to move.
        const kp = t.tanh(t.dense(t.constant(Float32Array.of(0.3, -0.7, 0.5, 0.2), [2, 2]), p('w', [2, 6]), p('b', [6])));
        const maps = t.gaussianMaps(kp, 3, 6, 8, 0.3);
        const target = t.constant(Float32Array.from({ length: 2 * 3 * 6 * 8 }, (_, i) => ((i * 7) % 11) / 11), [2, 3, 6, 8]);
        return t.mse(maps, target);
      },
      {},
    );
  });

  it('Gaussian keypoint maps are exp(-(distance²) / 2σ²) around each keypoint', async () => {
    const t = new Tape('maps');
    const kp = t.input('kp', [1, 4]);
    t.graph.output(t.gaussianMaps(kp, 2, 4, 4, 0.5), 'maps', [1, 2, 4, 4]);
    const model = await OnnxModel.load(t.graph.toBytes());
    try {
      const maps = (await model.run({ kp: { data: Float32Array.of(-0.25, 0.75, 1, -1), dims: [1, 4] } })).maps!.data as Float32Array;
      const centre = (i: number) => ((i + 0.5) / 4) * 2 - 1;
      for (const [k, x, y] of [
        [0, -0.25, 0.75],
        [1, 1, -1],
      ] as const) {
        for (let v = 0; v < 4; v++) for (let u = 0; u < 4; u++) expect(maps[k * 16 + v * 4 + u]!).toBeCloseTo(Math.exp(-((centre(u) - x) ** 2 + (centre(v) - y) ** 2) / (2 * 0.25)), 5);
      }
    } finally {
      await model.release();
    }
  });

  it('binary cross-entropy on logits and a weighted sum of losses', async () => {
    await check(
      (t, p) => {
        const logits = t.dense('x', p('w', [4, 1]), p('b', [1]));
        const targets = t.constant(Float32Array.of(0, 1, 1), [3, 1]);
        return t.weightedSum([
          [t.bceWithLogits(logits, targets), 2],
          [t.mse(logits, t.constant(Float32Array.of(0.5, -0.5, 0), [3, 1])), 0.25],
        ]);
      },
      { x: { dims: [3, 4] } },
    );
  });
});

describe('autodiff: Adam step', () => {
  it('updates parameters, moments and reports the gradient norm as Adam with global-norm clipping does', async () => {
    const tape = new Tape('adam');
    tape.input('x', [2, 2]);
    const w = tape.param('w', [2, 1]);
    const b = tape.param('b', [1]);
    const loss = tape.mse(tape.dense('x', w, b), tape.constant(Float32Array.of(1, -1), [2, 1]));
    tape.adam(tape.gradients(loss), { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1000 });
    const model = await OnnxModel.load(tape.graph.toBytes());
    const x = Float32Array.of(1, 2, 3, 4);
    const wv = Float32Array.of(0.5, -0.25);
    const bv = Float32Array.of(0.1);
    const out = await model.run({
      x: { data: x, dims: [2, 2] },
      w: { data: wv, dims: [2, 1] },
      b: { data: bv, dims: [1] },
      'w.m': { data: new Float32Array(2), dims: [2, 1] },
      'w.v': { data: new Float32Array(2), dims: [2, 1] },
      'b.m': { data: new Float32Array(1), dims: [1] },
      'b.v': { data: new Float32Array(1), dims: [1] },
      lr: { data: Float32Array.of(0.01), dims: [] },
    });
    await model.release();
    // By hand: residuals r = x·w + b - t, dL/dw = 2/2 · xᵀr, dL/db = Σr.
    const r = [1 * 0.5 + 2 * -0.25 + 0.1 - 1, 3 * 0.5 + 4 * -0.25 + 0.1 + 1];
    const gw = [r[0]! * 1 + r[1]! * 3, r[0]! * 2 + r[1]! * 4];
    const gb = r[0]! + r[1]!;
    expect(out.grad_norm!.data[0]).toBeCloseTo(Math.hypot(gw[0]!, gw[1]!, gb), 4);
    gw.forEach((g, i) => {
      const m = 0.1 * g;
      const v = 0.001 * g * g;
      expect(out['w.m.next']!.data[i]).toBeCloseTo(m, 5);
      expect(out['w.v.next']!.data[i]).toBeCloseTo(v, 6);
      expect(out['w.next']!.data[i]).toBeCloseTo(wv[i]! - (0.01 * m) / (Math.sqrt(v) + 1e-8), 5);
    });
    expect(out['b.next']!.data[0]).toBeCloseTo(0.1 - (0.01 * 0.1 * gb) / (Math.sqrt(0.001 * gb * gb) + 1e-8), 5);
  });
});
