/**
 * A world model whose answers are known in closed form, for testing what runs around a model
 * (label, dream --from-video) apart from how well a trained one learned: the latent is the
 * centroid (x, y, in pixels) of the frame's red mass (red minus green); an action moves it by
 * `pixelsPerAction` pixels per unit; the inverse is the centroid's displacement over that; rewards
 * and terminations are zero. Frames of a red square on a dark background driven by known actions
 * therefore label back to those actions, up to rendering and resampling.
 */
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { loadEnv } from '../../src/config/load.js';
import type { ModelCard } from '../../src/model/card.js';
import { cardParts, PART_NAMES, type PartName } from '../../src/model/export.js';
import { OnnxGraph } from '../../src/model/onnx/graph.js';
import { saveModel } from '../../src/model/store.js';

export interface CentroidModelOptions {
  /** A built-in environment with a camera of the model's size and two continuous actions. */
  env: string;
  camera: string;
  pixelsPerAction: number;
  /** The card's one-step latent residual (what confidence 0.5 means), in squared pixels. */
  residualScale?: number;
  /** What the card says of the training data (default: the environment's id and hash, no frame rate): a model of another tool's dataset names an environment trajforge does not know. */
  dataset?: Partial<ModelCard['dataset']>;
}

export function writeCentroidModel(dir: string, o: CentroidModelOptions): ModelCard {
  const env = loadEnv(o.env);
  const cam = env.config.cameras.find((c) => c.name === o.camera)!;
  const [W, H] = cam.resolution;
  const actuators = env.config.actions.actuators;
  const A = actuators.length;
  if (A !== 2) throw new Error(`writeCentroidModel: ${o.env} has ${A} actions; the centroid model moves in x and y`);
  const L = 2;
  const k = o.pixelsPerAction;

  const enc = new OnnxGraph('centroid_encoder');
  const frames = enc.input('frames', ['batch', H, W, 3]);
  const red = enc.slice(frames, [0], [1], [3]);
  const green = enc.slice(frames, [1], [2], [3]);
  const mass = enc.reshape(enc.node('Relu', [enc.sub(red, green)]), [-1, H * W]);
  const grid = new Float32Array(H * W * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) grid.set([x + 0.5, y + 0.5, 1], (y * W + x) * 3);
  const moments = enc.node('MatMul', [mass, enc.initializer('grid', grid, [H * W, 3])]);
  const total = enc.add(enc.slice(moments, [2], [3], [1]), enc.initializer('eps', Float32Array.of(1e-6), []));
  enc.output(enc.node('Div', [enc.slice(moments, [0], [2], [1]), total]), 'z', ['batch', L]);

  const dec = new OnnxGraph('centroid_decoder');
  const zd = dec.input('z', ['batch', L]);
  const flat = dec.node('MatMul', [zd, dec.initializer('zeros', new Float32Array(L * H * W * 3), [L, H * W * 3])]);
  dec.output(dec.reshape(flat, [-1, H, W, 3]), 'frames', ['batch', H, W, 3]);

  const dyn = new OnnxGraph('centroid_dynamics');
  const z = dyn.input('z', ['batch', L]);
  const action = dyn.input('action', ['batch', A]);
  dyn.output(dyn.add(z, dyn.mul(action, dyn.initializer('k', Float32Array.of(k, k), [2]))), 'z_next', ['batch', L]);
  const zero = dyn.node('MatMul', [z, dyn.initializer('zero', new Float32Array(L), [L, 1])]);
  dyn.output(zero, 'reward', ['batch', 1]);
  dyn.output(dyn.sigmoid(dyn.add(zero, dyn.initializer('never', Float32Array.of(-30), []))), 'done', ['batch', 1]);

  const inv = new OnnxGraph('centroid_inverse');
  const zi = inv.input('z', ['batch', L]);
  const zn = inv.input('z_next', ['batch', L]);
  inv.output(inv.mul(inv.sub(zn, zi), inv.initializer('inv_k', Float32Array.of(1 / k, 1 / k), [2])), 'action', ['batch', A]);

  const parts: Record<PartName, Uint8Array> = { encoder: enc.toBytes(), decoder: dec.toBytes(), dynamics: dyn.toBytes(), inverse: inv.toBytes() };
  const hash = createHash('sha256');
  for (const p of PART_NAMES) hash.update(parts[p]);
  const card: ModelCard = {
    format: 'trajforge-world-model',
    version: 2,
    id: hash.digest('hex').slice(0, 16),
    kind: 'linear',
    created: '2026-01-01T00:00:00.000Z',
    dataset: { path: '(analytic)', env_id: env.config.id, config_hash: env.hash, episodes: 0, frames: 0, ...o.dataset },
    camera: o.camera,
    input: { width: W, height: H, channels: 3, layout: 'NHWC', range: [0, 1], downsample: 1 },
    decoded: { width: W, height: H },
    latent: L,
    action: { names: actuators.map((a) => a.name), low: actuators.map((a) => a.low), high: actuators.map((a) => a.high) },
    // The centroid is the state estimate: x and y in pixels, read straight from the latent.
    state: { names: ['centroid.x', 'centroid.y'], latent_dims: [0, 1], mean: [0, 0], std: [1, 1] },
    split: { train: [0], heldout: [1] },
    training: { seed: 0, seconds: 0, options: {}, final: o.residualScale === undefined ? {} : { 'train.latent': o.residualScale } },
    parts: cardParts({ inputWidth: W, inputHeight: H, width: W, height: H, latent: L, actionDim: A }),
  };
  mkdirSync(dir, { recursive: true });
  saveModel(dir, card, parts);
  return card;
}

/**
 * Frames of a red square (side `side`) on a dark grey background whose centre starts at `start`
 * and moves by actions[t] · pixelsPerAction (in the frame's pixels) each step: actions.length + 1
 * frames of width × height, rgb24.
 */
export function squareFrames(width: number, height: number, side: number, start: [number, number], actions: Float32Array, pixelsPerAction: number): { frames: Uint8Array; count: number } {
  const count = actions.length / 2 + 1;
  const frames = new Uint8Array(count * width * height * 3);
  let [cx, cy] = start;
  for (let t = 0; t < count; t++) {
    const base = t * width * height * 3;
    for (let i = 0; i < width * height; i++) frames.set([30, 30, 30], base + i * 3);
    const x0 = Math.round(cx - side / 2);
    const y0 = Math.round(cy - side / 2);
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + side); y++) for (let x = Math.max(0, x0); x < Math.min(width, x0 + side); x++) frames.set([220, 40, 40], base + (y * width + x) * 3);
    if (t < count - 1) {
      cx += actions[t * 2]! * pixelsPerAction;
      cy += actions[t * 2 + 1]! * pixelsPerAction;
    }
  }
  return { frames, count };
}
