/**
 * The convolutional world model's networks, written once against the Tape: the training step
 * declares the weights as trainable inputs, the exported inference graphs as constants, and both
 * run exactly these ops.
 *
 *   encoder   frames [N, h, w, 3] in [0,1] (and, with context 2, the frames before them)
 *             -> 4 stride-2 convs (d, 2d, 4d, 8d channels, ELU) -> dense -> z [N, L]
 *   decoder   z -> dense -> [8d, h/16, w/16] -> 4 stride-2 transposed convs -> frames [N, h, w, 3]
 *   dynamics  [z, a] -> 2 ELU layers -> [Δz, reward, done logit]; z' = z + Δz
 *   inverse   [z, z'] -> 2 ELU layers -> a            (actions normalised to [-1, 1])
 *   state     z -> state (normalised): an auxiliary training target, not exported
 * h × w is the working size: the camera's size when it is a multiple of 16 (64x64 by default),
 * otherwise the frames are resized to one (see workingSize).
 */
import { Rng } from '../../core/rng.js';
import { pixelCentres, type Tape } from '../onnx/autodiff.js';

export interface ConvShape {
  /** Working frame size, multiples of 16. */
  width: number;
  height: number;
  /** Channels of the first conv (DreamerV3's "depth"); later convs double it. */
  depth: number;
  latent: number;
  hidden: number;
  /** Actions (0: an environment without actions). */
  actions: number;
  /** Normalised state columns the auxiliary head predicts (0: none). */
  states: number;
  /**
   * Two constant input channels holding each pixel's x and y in [-1, 1] (CoordConv, Liu et al.
   * 2018): convolutions are translation-equivariant and find it hard to output where something
   * is; with the coordinates as input, position becomes a linear read-out.
   */
  coords: boolean;
  /**
   * Learned keypoints (0: none): score maps from a 3x3 and a 1x1 conv at full resolution, a
   * softmax over the pixels of each, and its expected (x, y) (a spatial soft-argmax, as in deep
   * spatial autoencoders, Finn et al. 2016). They end z (2 values each): positions precise to
   * fractions of a pixel, which inverse dynamics and the state probe need when objects are small.
   */
  keypoints: number;
  /**
   * Frames the encoder sees: 1 (the frame alone) or 2 (the frame and the one before it). One frame
   * holds positions but not velocities, so anything with momentum (a cart and pole, a falling
   * object, a pushed cube sliding on) is unpredictable from it and its actions cannot be inferred
   * from two latents (an action changes the velocity, so (z, z') must carry two velocities).
   * With 2, the convolutions also see the frame difference and z ends with each keypoint's motion.
   */
  context: number;
  /**
   * The decoder also draws each keypoint of z as a Gaussian map (σ one cell) into the inputs of
   * its last two transposed convolutions (at h/4 and h/2), as in keypoint-conditioned image
   * generation (Jakab et al. 2018): a dense layer has to learn where every position in z puts an
   * object, a map moves with its keypoint by construction, so a predicted keypoint draws the
   * object where it will be.
   */
  decoderMaps: boolean;
}

/** A weight's name and shape, and how it is initialised. */
export interface ParamSpec {
  name: string;
  dims: number[];
  /** Fan-in for He-style normal initialisation; 0 for biases (zeros). */
  fanIn: number;
  /** Extra init gain (smaller for output layers so the first steps are calm). */
  gain: number;
}

const CONVS = 4;
/** Scale of the keypoint score maps before their softmax (an inverse temperature). */
const KEYPOINT_SHARPNESS = 10;
const KERNEL = 4;
const CONV = { stride: 2, pad: 1 };

export function convChannels(shape: ConvShape): number[] {
  return [3, ...Array.from({ length: CONVS }, (_, i) => shape.depth * 2 ** i)];
}

/** Latent dims from the dense bottleneck: the rest of z is the keypoints' coordinates (and, with context 2, their motion). */
export function globalLatent(shape: ConvShape): number {
  return shape.latent - keypointLatentDims(shape.keypoints, shape.context);
}

/** Latent dims the learned keypoints take: x and y of each, and with context 2 their motion too. */
export function keypointLatentDims(keypoints: number, context: number): number {
  return 2 * keypoints * context;
}

/**
 * Keypoint motion over one step is a few hundredths of the [-1, 1] frame; scaled so that it is of
 * the size of the other latent dims the dynamics and inverse MLPs read.
 */
const MOTION_SCALE = 10;

/** Input channels of the encoder's first convolution. */
function inputChannels(shape: ConvShape): number {
  return 3 * shape.context + (shape.coords ? 2 : 0);
}

/** [1, 2, h, w]: x and y of each pixel centre in [-1, 1]. */
export function coordinateChannels(width: number, height: number): Float32Array {
  const xs = pixelCentres(width);
  const ys = pixelCentres(height);
  const out = new Float32Array(2 * width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      out[y * width + x] = xs[x]!;
      out[width * height + y * width + x] = ys[y]!;
    }
  }
  return out;
}

function bottleneck(shape: ConvShape): { c: number; h: number; w: number } {
  const ch = convChannels(shape);
  return { c: ch[CONVS]!, h: shape.height / 2 ** CONVS, w: shape.width / 2 ** CONVS };
}

/** Whether transposed convolution i (3 first, 0 last) takes the keypoint maps beside its input. */
function mapsAt(shape: ConvShape, i: number): boolean {
  return shape.decoderMaps && shape.keypoints > 0 && i <= 1;
}

/** Every weight of the model, in a fixed order (the order of checkpoints and initialisation). */
export function paramSpecs(shape: ConvShape): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const dense = (name: string, i: number, o: number, gain = 1) => specs.push({ name: `${name}.w`, dims: [i, o], fanIn: i, gain }, { name: `${name}.b`, dims: [o], fanIn: 0, gain });
  const ch = convChannels(shape);
  const b = bottleneck(shape);
  const flat = b.c * b.h * b.w;
  for (let i = 0; i < CONVS; i++) {
    const cin = i === 0 ? inputChannels(shape) : ch[i]!;
    specs.push({ name: `enc.conv${i}.w`, dims: [ch[i + 1]!, cin, KERNEL, KERNEL], fanIn: cin * KERNEL * KERNEL, gain: 1 }, { name: `enc.conv${i}.b`, dims: [ch[i + 1]!], fanIn: 0, gain: 1 });
  }
  if (shape.keypoints > 0) {
    specs.push({ name: 'enc.kpconv.w', dims: [shape.depth, 3, 3, 3], fanIn: 27, gain: 1 }, { name: 'enc.kpconv.b', dims: [shape.depth], fanIn: 0, gain: 1 });
    specs.push({ name: 'enc.kp.w', dims: [shape.keypoints, shape.depth, 1, 1], fanIn: shape.depth, gain: 1 }, { name: 'enc.kp.b', dims: [shape.keypoints], fanIn: 0, gain: 1 });
  }
  dense('enc.out', flat, globalLatent(shape), 0.5);
  dense('dec.in', shape.latent, flat);
  for (let i = CONVS - 1; i >= 0; i--) {
    const out = ch[i]!;
    const cin = ch[i + 1]! + (mapsAt(shape, i) ? shape.keypoints : 0);
    specs.push({ name: `dec.deconv${i}.w`, dims: [cin, out, KERNEL, KERNEL], fanIn: (cin * KERNEL * KERNEL) / 4, gain: i === 0 ? 0.5 : 1 }, { name: `dec.deconv${i}.b`, dims: [out], fanIn: 0, gain: 1 });
  }
  const A = shape.actions;
  dense('dyn.0', shape.latent + A, shape.hidden);
  dense('dyn.1', shape.hidden, shape.hidden);
  dense('dyn.out', shape.hidden, shape.latent + 2, 0.1);
  if (A > 0) {
    dense('inv.0', 2 * shape.latent, shape.hidden);
    dense('inv.1', shape.hidden, shape.hidden);
    dense('inv.out', shape.hidden, A, 0.5);
  }
  if (shape.states > 0) dense('state', shape.latent, shape.states, 0.5);
  return specs;
}

/** Seeded initial weights: He-normal for weights, zeros for biases but the decoder's output (mid-grey). */
export function initialParams(shape: ConvShape, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const p of paramSpecs(shape)) {
    const n = p.dims.reduce((a, b) => a * b, 1);
    const std = p.fanIn > 0 ? p.gain * Math.sqrt(2 / p.fanIn) : 0;
    const bias = p.name === 'dec.deconv0.b' ? 0.5 : 0;
    out.set(p.name, Float32Array.from({ length: n }, () => (std > 0 ? rng.normal() * std : bias)));
  }
  return out;
}

/** A weight by name as a tensor of the graph being built (trainable input or constant). */
export type Weights = (name: string) => string;

/** frames NCHW [N, 3, h, w] -> keypoint coordinates [N, 2K] (x, y of each, in [-1, 1]). */
export function keypointsOf(t: Tape, frames: string, shape: ConvShape, w: Weights): string {
  // At full resolution, on the colours alone (coordinate channels would pull every map to a
  // corner): a 3x3 conv then 1x1 score maps, so a keypoint can follow a few-pixel object to a
  // fraction of a pixel. Half resolution (a 4x4 stride-2 conv) is 2.3x faster but loses that
  // precision: PushCube's inverse-dynamics R² fell from 0.93 to 0.75.
  const n = t.shape(frames)[0]!;
  const K = shape.keypoints;
  const H = shape.height;
  const W = shape.width;
  const P = H * W;
  // ELU, although onnxruntime cannot fuse it into the convolution as it fuses ReLU (it and the
  // layout changes around it take a fifth of the encoder's time): with ReLU here StackCube's
  // model fell from 21.9 % to -10.4 % below copy-last (PushCube's was unchanged).
  const features = t.elu(t.conv(frames, w('enc.kpconv.w'), w('enc.kpconv.b'), { stride: 1, pad: 1 }));
  // Sharpened scores: at initialisation they differ by about 1 between pixels, which over
  // thousands of pixels is a near-uniform softmax whose expected position barely moves or learns.
  // Scaled before the reshape, so onnxruntime folds the scale into the 1x1 conv's weights.
  const maps = t.reshape(t.scale(t.conv(features, w('enc.kp.w'), w('enc.kp.b'), { stride: 1, pad: 0 }), KEYPOINT_SHARPNESS), [-1, K, P], [n, K, P]);
  const probabilities = t.reshape(t.softmax(maps), [-1, K, H, W], [n, K, H, W]);
  // The expected x from the column marginals, y from the row marginals: two sums and two
  // [w, 1] products instead of one [h·w, 2] matrix product, which onnxruntime's GEMM computes
  // as if the 2 were 16 columns (the soft-argmax took 26 µs a frame, the marginals take 11).
  const xs = t.matmulConstant(t.sum(probabilities, 2), pixelCentres(W), W, 1);
  const ys = t.matmulConstant(t.sum(probabilities, 3), pixelCentres(H), H, 1);
  return t.reshape(t.concat([xs, ys], 2), [-1, 2 * K], [n, 2 * K]);
}

/**
 * The encoder given its pieces: frames [N, 3, h, w], the frames before them (context 2, else
 * null) and the keypoints of both (null without keypoints). Training and the exported encoder
 * compute the keypoints of a whole sequence (or batch) at once and hand each frame its
 * predecessor's (conv/export.ts gathers them by the previous_index input).
 */
export function encoderFromParts(t: Tape, frames: string, previous: string | null, kp: { current: string; previous: string | null } | null, shape: ConvShape, w: Weights): string {
  const s = t.shape(frames);
  const n = s[0]!;
  const channels = [frames];
  if (previous !== null) channels.push(t.sub(frames, previous));
  if (shape.coords) {
    const grid = t.constant(coordinateChannels(shape.width, shape.height), [1, 2, shape.height, shape.width]);
    // Broadcast over the batch: Expand to [N, 2, h, w] with N read from the frames at run time.
    const target = t.graph.concat([t.graph.slice(t.graph.node('Shape', [frames]), [0], [1], [0]), t.graph.int64Initializer(`coords.dims_${t.graph.name}`, [2, shape.height, shape.width], [3])], 0);
    channels.push(t.declare(t.graph.node('Expand', [grid, target]), [n, 2, shape.height, shape.width]));
  }
  let x = channels.length === 1 ? frames : t.concat(channels, 1);
  for (let i = 0; i < CONVS; i++) x = t.elu(t.conv(x, w(`enc.conv${i}.w`), w(`enc.conv${i}.b`), CONV));
  const b = bottleneck(shape);
  const flat = t.reshape(x, [-1, b.c * b.h * b.w], [n, b.c * b.h * b.w]);
  const parts = [t.dense(flat, w('enc.out.w'), w('enc.out.b'))];
  if (kp) {
    parts.push(kp.current);
    if (kp.previous !== null) parts.push(t.scale(t.sub(kp.current, kp.previous), MOTION_SCALE));
  }
  return parts.length === 1 ? parts[0]! : t.concat(parts, 1);
}

/**
 * frames NCHW [N, 3, h, w] in [0,1] (and the frames before them, [N, 3, h, w], with context 2)
 * -> z [N, L]. (Training feeds NCHW; the exported encoder transposes its NHWC inputs first.)
 */
export function encoder(t: Tape, frames: string, previous: string | null, shape: ConvShape, w: Weights): string {
  const kp = shape.keypoints > 0 ? { current: keypointsOf(t, frames, shape, w), previous: previous === null ? null : keypointsOf(t, previous, shape, w) } : null;
  return encoderFromParts(t, frames, previous, kp, shape, w);
}

/** z [N, L] -> frames NCHW [N, 3, h, w] in about [0, 1] (unclipped). */
export function decoder(t: Tape, z: string, shape: ConvShape, w: Weights): string {
  const b = bottleneck(shape);
  const n = t.shape(z)[0]!;
  let x = t.reshape(t.elu(t.dense(z, w('dec.in.w'), w('dec.in.b'))), [-1, b.c, b.h, b.w], [n, b.c, b.h, b.w]);
  const G = globalLatent(shape);
  const kp = shape.decoderMaps && shape.keypoints > 0 ? t.slice(z, G, G + 2 * shape.keypoints, 1) : null;
  for (let i = CONVS - 1; i >= 0; i--) {
    if (kp !== null && mapsAt(shape, i)) {
      const h = shape.height / 2 ** (i + 1);
      const wd = shape.width / 2 ** (i + 1);
      x = t.concat([x, t.gaussianMaps(kp, shape.keypoints, h, wd, 2 / Math.max(h, wd))], 1);
    }
    x = t.convTranspose(x, w(`dec.deconv${i}.w`), w(`dec.deconv${i}.b`), CONV);
    if (i > 0) x = t.elu(x);
  }
  return x;
}

/** [z, a] -> z' = z + Δz, reward, done logit. `a` is null without actions. */
export function dynamics(t: Tape, z: string, a: string | null, shape: ConvShape, w: Weights): { next: string; reward: string; doneLogit: string } {
  const input = a === null ? z : t.concat([z, a], 1);
  const h = t.elu(t.dense(t.elu(t.dense(input, w('dyn.0.w'), w('dyn.0.b'))), w('dyn.1.w'), w('dyn.1.b')));
  const out = t.dense(h, w('dyn.out.w'), w('dyn.out.b'));
  const L = shape.latent;
  return { next: t.add(z, t.slice(out, 0, L, 1)), reward: t.slice(out, L, L + 1, 1), doneLogit: t.slice(out, L + 1, L + 2, 1) };
}

/** [z, z'] -> normalised action. */
export function inverse(t: Tape, z: string, zNext: string, w: Weights): string {
  const h = t.elu(t.dense(t.elu(t.dense(t.concat([z, zNext], 1), w('inv.0.w'), w('inv.0.b'))), w('inv.1.w'), w('inv.1.b')));
  return t.dense(h, w('inv.out.w'), w('inv.out.b'));
}

/** z -> normalised state estimate (training only). */
export function stateHead(t: Tape, z: string, w: Weights): string {
  return t.dense(z, w('state.w'), w('state.b'));
}
