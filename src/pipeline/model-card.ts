/** model.json of a freshly trained model: what its graphs expect, where it came from, how training ended. */
import { sha256Hex } from '../core/hash.js';
import type { ModelCard } from '../model/card.js';
import { cardParts, PART_NAMES, type PartName } from '../model/export.js';
import type { TrainingLogEntry } from '../model/training-log.js';
import type { ModelData } from './model-data.js';

/** The trained model's sizes, as the card records them. */
export interface ModelShape {
  kind: ModelCard['kind'];
  /** Encoder input (camera) size; width × height is the decoded size. */
  inputWidth: number;
  inputHeight: number;
  width: number;
  height: number;
  latent: number;
  actionDim: number;
  /** Frames per encoder input (default 1; see ModelCard input.context). */
  context?: number;
  state: ModelCard['state'];
}

export interface ModelCardInputs {
  parts: Record<PartName, Uint8Array>;
  shape: ModelShape;
  log: TrainingLogEntry[];
  /** The training options as numbers (model.json's training.options). */
  options: Record<string, number>;
  seconds: number;
  data: ModelData;
  split: { train: number[]; heldout: number[] };
}

/** The card of a model trained on `data`: its id is the content hash of the ONNX parts. */
export function buildModelCard(x: ModelCardInputs): ModelCard {
  const { shape: model, data } = x;
  const all = new Uint8Array(PART_NAMES.reduce((s, p) => s + x.parts[p].length, 0));
  let off = 0;
  for (const p of PART_NAMES) {
    all.set(x.parts[p], off);
    off += x.parts[p].length;
  }
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  const actions = data.actions;
  const final: Record<string, number> = {};
  // Only finite figures: a loss the model has no term for (no actions: no inverse) is left out, not null.
  for (const e of x.log) for (const [k, v] of Object.entries(e.parts)) if (Number.isFinite(v)) final[`${e.phase}.${k}`] = v;
  return {
    format: 'trajforge-world-model',
    version: 2,
    id: sha256Hex(all).slice(0, 16),
    kind: model.kind,
    created: new Date().toISOString(),
    dataset: {
      path: data.dir,
      env_id: data.meta.envId,
      config_hash: data.meta.configHash,
      episodes: data.episodes.length,
      frames: data.transitions.states.rows,
      fps: data.meta.fps,
    },
    camera: data.camera,
    input: { width: model.inputWidth, height: model.inputHeight, channels: 3, layout: 'NHWC', range: [0, 1], downsample: data.downsample, ...((model.context ?? 1) > 1 ? { context: model.context } : {}) },
    decoded: { width: model.width, height: model.height },
    latent: model.latent,
    action: { names: actions.names, low: actions.low.map(finite), high: actions.high.map(finite), ...(actions.discrete ? { discrete: true } : {}) },
    state: model.state,
    split: x.split,
    training: { seed: x.options.seed ?? 0, seconds: x.seconds, options: { ...x.options }, final },
    parts: cardParts(model),
  };
}
