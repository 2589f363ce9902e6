/**
 * Colour keypoints: a closed-form, object-centric stem. Synthetic scenes draw objects in distinct
 * colours, so where each colour is in the frame says where the objects are. We pick K prototype
 * colours from training pixels (farthest-point sampling, which favours rare object colours over
 * the background's many near-identical pixels), weigh every pixel by its membership
 * max(0, 1 - |rgb - c_k|² / r²) (a colour ball of radius r with soft edges, so colours blended at
 * object edges move the centroid by fractions of a pixel) and report, per prototype, its mass
 * (fraction of the frame) and the membership-weighted centroid (x, y in [0, 1]). These 3K numbers
 * are nearly linear in object positions (a linear probe reaches R² 0.97 on PushCube at 64x64, where
 * PCA coefficients give ~0.75), the spatial-softmax idea of deep spatial autoencoders with fixed colour filters instead of
 * learned convolutions, so nothing here needs training beyond choosing the colours.
 */
import { Rng } from '../../core/rng.js';
import type { OnnxGraph } from '../onnx/graph.js';

export interface ColourKeypoints {
  /** K × 3 prototype colours (rgb in [0,1]). */
  readonly prototypes: Float32Array;
  /** Membership radius in rgb units (0.25-0.35 all reach inverse-dynamics R² 0.95 on PushCube; 0.15 only 0.79). */
  readonly radius: number;
  readonly width: number;
  readonly height: number;
}

/** Added to the mass before dividing, so an absent colour gives a centroid near 0, not NaN. */
const MASS_EPSILON = 1e-3;

export function keypointCount(k: ColourKeypoints): number {
  return k.prototypes.length / 3;
}

/**
 * Farthest-point prototype colours from `samples` random pixels of the given frames (rows of H·W·3;
 * times `scale`, 1/255 for bytes).
 */
export function fitColourKeypoints(
  frames: ArrayLike<number>,
  frameCount: number,
  width: number,
  height: number,
  count: number,
  options: { radius?: number; samples?: number; seed?: number; scale?: number } = {},
): ColourKeypoints {
  const scale = options.scale ?? 1;
  const rng = new Rng(options.seed ?? 0);
  const pixels = width * height;
  const samples = Math.min(options.samples ?? 20000, frameCount * pixels);
  const colours = new Float64Array(samples * 3);
  for (let i = 0; i < samples; i++) {
    const at = (rng.int(frameCount) * pixels + rng.int(pixels)) * 3;
    for (let c = 0; c < 3; c++) colours[i * 3 + c] = frames[at + c]! * scale;
  }
  const prototypes = new Float32Array(count * 3);
  prototypes.set(colours.subarray(0, 3));
  const nearest = new Float64Array(samples).fill(Infinity);
  for (let k = 1; k < count; k++) {
    let far = 0;
    let farIndex = 0;
    for (let i = 0; i < samples; i++) {
      let d = 0;
      for (let c = 0; c < 3; c++) d += (colours[i * 3 + c]! - prototypes[(k - 1) * 3 + c]!) ** 2;
      if (d < nearest[i]!) nearest[i] = d;
      if (nearest[i]! > far) {
        far = nearest[i]!;
        farIndex = i;
      }
    }
    prototypes.set(colours.subarray(farIndex * 3, farIndex * 3 + 3), k * 3);
  }
  return { prototypes, radius: options.radius ?? 0.3, width, height };
}

/** n frames (rows of H·W·3, times `scale` in [0,1]: 1/255 for bytes) -> n × 3K features: per prototype (mass, x, y). */
export function colourKeypointFeatures(kp: ColourKeypoints, frames: ArrayLike<number>, n: number, scale = 1): Float32Array {
  const K = keypointCount(kp);
  const { width, height } = kp;
  const pixels = width * height;
  const inv = 1 / (kp.radius * kp.radius);
  const out = new Float32Array(n * 3 * K);
  const mass = new Float64Array(K);
  const sx = new Float64Array(K);
  const sy = new Float64Array(K);
  const proto = kp.prototypes;
  for (let f = 0; f < n; f++) {
    mass.fill(0);
    sx.fill(0);
    sy.fill(0);
    const base = f * pixels * 3;
    for (let p = 0; p < pixels; p++) {
      const r = frames[base + p * 3]! * scale;
      const g = frames[base + p * 3 + 1]! * scale;
      const b = frames[base + p * 3 + 2]! * scale;
      const x = (p % width) / width;
      const y = Math.floor(p / width) / height;
      for (let k = 0; k < K; k++) {
        const w = 1 - ((r - proto[k * 3]!) ** 2 + (g - proto[k * 3 + 1]!) ** 2 + (b - proto[k * 3 + 2]!) ** 2) * inv;
        if (w <= 0) continue;
        mass[k]! += w;
        sx[k]! += w * x;
        sy[k]! += w * y;
      }
    }
    for (let k = 0; k < K; k++) {
      out[f * 3 * K + k * 3] = mass[k]! / pixels;
      out[f * 3 * K + k * 3 + 1] = sx[k]! / (mass[k]! + MASS_EPSILON);
      out[f * 3 * K + k * 3 + 2] = sy[k]! / (mass[k]! + MASS_EPSILON);
    }
  }
  return out;
}

/**
 * The same features as ONNX ops on `frames` [batch, H, W, 3]; returns a [batch, 3K] tensor.
 * Memberships are a 1x1 Conv (+ Relu, which onnxruntime fuses) on [r, g, b, |rgb|²] in NCHW, so
 * they come out as [N·K, P] and the weighted sums are one GEMM with a constant [P, 3] right side.
 * Measured: ~7,000 frames/s at 64x64 on one thread; the per-frame batched MatMul / Exp / Softmax
 * formulations we tried ran 870-1,400.
 */
export function colourKeypointGraph(g: OnnxGraph, frames: string, kp: ColourKeypoints, prefix = 'keypoints'): string {
  const K = keypointCount(kp);
  const pixels = kp.width * kp.height;
  const inv = 1 / (kp.radius * kp.radius);
  // 1 - |x - c|²/r² = (2c·x - |x|² + r² - |c|²) / r²: linear in [x, |x|²].
  const weights = new Float32Array(K * 4);
  const bias = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    let cc = 0;
    for (let c = 0; c < 3; c++) {
      weights[k * 4 + c] = 2 * kp.prototypes[k * 3 + c]! * inv;
      cc += kp.prototypes[k * 3 + c]! ** 2;
    }
    weights[k * 4 + 3] = -inv;
    bias[k] = 1 - cc * inv;
  }
  const channels = g.node('Transpose', [frames], { perm: { ints: [0, 3, 1, 2] } }); // [N, 3, H, W]
  const norm = g.node('ReduceSum', [g.mul(channels, channels), g.int64Initializer(`${prefix}.channel_axis`, [1], [1])], { keepdims: { int: 1 } });
  const augmented = g.concat([channels, norm], 1); // [N, 4, H, W]
  const logits = g.node('Conv', [augmented, g.initializer(`${prefix}.weights`, weights, [K, 4, 1, 1]), g.initializer(`${prefix}.bias`, bias, [K])], {});
  const membership = g.reshape(g.node('Relu', [logits]), [-1, pixels]); // [N·K, P]
  const basis = new Float32Array(pixels * 3); // rows [1, x, y]
  for (let p = 0; p < pixels; p++) {
    basis[p * 3] = 1;
    basis[p * 3 + 1] = (p % kp.width) / kp.width;
    basis[p * 3 + 2] = Math.floor(p / kp.width) / kp.height;
  }
  const sums = g.reshape(g.node('MatMul', [membership, g.initializer(`${prefix}.basis`, basis, [pixels, 3])]), [-1, K, 3]);
  const mass = g.slice(sums, [0], [1], [2]); // [N, K, 1]
  const centroids = g.node('Div', [g.slice(sums, [1], [3], [2]), g.add(mass, g.initializer(`${prefix}.mass_epsilon`, Float32Array.of(MASS_EPSILON), []))]);
  const fraction = g.mul(mass, g.initializer(`${prefix}.inv_pixels`, Float32Array.of(1 / pixels), []));
  return g.reshape(g.concat([fraction, centroids], 2), [-1, 3 * K]);
}
