/**
 * model.json: the card that travels with a world model's ONNX files. It says what the graphs
 * expect (input size, layout, normalisation, action units), where the model came from (dataset,
 * config hash, split, seed) and how it scored, so a model directory is usable without trajforge.
 */
import { z } from 'zod';
import { TrajforgeError } from '../core/errors.js';
import { PART_NAMES } from './export.js';

const shape = z.array(z.union([z.number().int(), z.string()]));
const tensor = z.object({ name: z.string(), shape });

export const modelCardSchema = z.strictObject({
  format: z.literal('trajforge-world-model'),
  /** 2: the encoder takes camera-resolution frames (version 1 took them downsampled). */
  version: z.literal(2),
  /** Content hash of the ONNX files: changes whenever any weight changes. */
  id: z.string().regex(/^[0-9a-f]{16}$/),
  /** conv: the convolutional model (`--arch conv`); latent-mlp: colour keypoints + sprites (`--arch keypoints`); linear: PCA + bilinear ridge (`--arch linear`). */
  kind: z.enum(['conv', 'latent-mlp', 'linear']),
  created: z.string(),
  dataset: z.strictObject({
    path: z.string(),
    env_id: z.string(),
    config_hash: z.string(),
    episodes: z.number().int().nonnegative(),
    frames: z.number().int().nonnegative(),
    /** The dataset's frames per second (control steps): what `label` resamples video to when no environment file is at hand (absent in cards of earlier releases). */
    fps: z.number().positive().optional(),
  }),
  camera: z.string(),
  /** What the encoder takes: the camera's frames. */
  input: z.strictObject({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    channels: z.literal(3),
    layout: z.literal('NHWC'),
    /** rgb divided by 255 */
    range: z.tuple([z.literal(0), z.literal(1)]),
    /** Integer box-filter factor the encoder applies (inside its graph) before its pixel stem; decoded frames are input / downsample. */
    downsample: z.number().int().positive(),
    /**
     * Frames per encoder input (absent: 1). With 2 the encoder also takes each frame's
     * predecessor (the frame itself at a sequence's start), by its row in the batch
     * (`previous_index`; models of an earlier release: its pixels, `previous`): z then holds
     * velocities.
     */
    context: z.number().int().min(1).max(2).optional(),
  }),
  /** What the decoder returns (and what eval compares): input frames box-filtered by input.downsample. */
  decoded: z.strictObject({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
  latent: z.number().int().positive(),
  action: z.strictObject({
    names: z.array(z.string()),
    /** null: unbounded in the environment (then not rescaled). */
    low: z.array(z.number().nullable()),
    high: z.array(z.number().nullable()),
    /**
     * true: the environment's actions are a discrete set; `names` are its choices and the model
     * takes (and its inverse model gives) one value per choice: choice k is the one-hot vector e_k,
     * and an inferred action is the choice of the largest value.
     */
    discrete: z.boolean().optional(),
  }),
  state: z.strictObject({
    /**
     * State features the latent estimates: feature i is z[latent_dims[i]] · std[i] + mean[i]
     * (the keypoint family ties latent dims to state during training), or, with `readout`,
     * (z · weights + bias)[i] · std[i] + mean[i] (a linear head trained beside the model).
     */
    names: z.array(z.string()),
    latent_dims: z.array(z.number().int().nonnegative()),
    mean: z.array(z.number()),
    std: z.array(z.number()),
    /** Linear read-out of the normalised state: weights row-major latent × names, bias per name. latent_dims is then empty. */
    readout: z.strictObject({ weights: z.array(z.number()), bias: z.array(z.number()) }).optional(),
  }),
  // Episode indices; eval scores the held-out ones, so there is at least one of each.
  split: z.strictObject({ train: z.array(z.number().int().nonnegative()).min(1), heldout: z.array(z.number().int().nonnegative()).min(1) }),
  training: z.strictObject({
    seed: z.number().int(),
    seconds: z.number(),
    options: z.record(z.string(), z.number()),
    final: z.record(z.string(), z.number()),
  }),
  parts: z.strictObject(Object.fromEntries(PART_NAMES.map((p) => [p, z.strictObject({ file: z.string(), inputs: z.array(tensor), outputs: z.array(tensor) })])) as Record<
    (typeof PART_NAMES)[number],
    z.ZodObject<{ file: z.ZodString; inputs: z.ZodArray<typeof tensor>; outputs: z.ZodArray<typeof tensor> }>
  >),
  metrics: z.record(z.string(), z.number()).optional(),
});

export type ModelCard = z.infer<typeof modelCardSchema>;

export function parseModelCard(value: unknown, source: string): ModelCard {
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version < 2) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${source}: model card version ${version} is from an older trajforge (its encoder took downsampled frames); retrain the model with this version`, { file: source });
  }
  const parsed = modelCardSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TrajforgeError('E_MODEL_SHAPE', `${source}: not a trajforge model card: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { file: source });
  }
  const card = parsed.data;
  const inconsistent = cardInconsistency(card);
  if (inconsistent) throw new TrajforgeError('E_MODEL_SHAPE', `${source}: the model card contradicts itself: ${inconsistent}; restore model.json or retrain`, { file: source });
  return card;
}

/** The first disagreement between the card's sizes (latent, input, decoded, action) and its declared tensors, or ''. */
function cardInconsistency(card: ModelCard): string {
  const A = card.action.names.length;
  if (card.action.low.length !== A || card.action.high.length !== A) return `action.low/high have ${card.action.low.length}/${card.action.high.length} entries for ${A} action names`;
  const s = card.state;
  if (s.mean.length !== s.names.length || s.std.length !== s.names.length) return `state.names, mean and std differ in length`;
  if (s.readout) {
    if (s.latent_dims.length !== 0) return `state has both latent_dims and a readout`;
    if (s.readout.weights.length !== card.latent * s.names.length || s.readout.bias.length !== s.names.length) return `state.readout holds ${s.readout.weights.length} weights and ${s.readout.bias.length} biases for latent ${card.latent} × ${s.names.length} state features`;
  } else if (s.latent_dims.length !== s.names.length) return `state.names and latent_dims differ in length`;
  if (s.latent_dims.some((d) => d >= card.latent)) return `state.latent_dims reach past latent ${card.latent}`;
  const want: Record<string, (number | null)[]> = {
    frames: [null, card.input.height, card.input.width, 3],
    previous: [null, card.input.height, card.input.width, 3],
    z: [null, card.latent],
    z_next: [null, card.latent],
    action: [null, A],
  };
  for (const [part, io] of Object.entries(card.parts)) {
    for (const t of [...io.inputs, ...io.outputs]) {
      const w = part === 'decoder' && t.name === 'frames' ? [null, card.decoded.height, card.decoded.width, 3] : want[t.name];
      if (!w) continue;
      const ok = w.length === t.shape.length && w.every((d, i) => d === null || d === t.shape[i]);
      if (!ok) return `parts.${part} tensor '${t.name}' is [${t.shape.join(', ')}], expected [${w.map((d) => d ?? 'batch').join(', ')}] from latent ${card.latent}, input ${card.input.width}x${card.input.height}, decoded ${card.decoded.width}x${card.decoded.height}, ${A} actions`;
    }
  }
  return '';
}

/** Throws unless a camera of width × height is what the model's encoder takes. */
export function checkCameraSize(card: ModelCard, width: number, height: number, where: string): void {
  if (width !== card.input.width || height !== card.input.height) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${where}: camera '${card.camera}' is ${width}x${height}; the model's encoder takes ${card.input.width}x${card.input.height} frames`);
  }
}

/** What a model is applied to (a dataset or an environment), in the terms its card records. */
export interface ModelTarget {
  /** The dataset path or environment id, for messages. */
  where: string;
  envId: string;
  configHash: string;
  cameras: readonly { name: string; width: number; height: number; channels?: readonly string[] }[];
  discrete: boolean;
  /** Action dims (1, the choice index, for a discrete set). */
  actionDims: number;
  /** A discrete set's choice names. */
  choices?: readonly string[];
}

/** An environment's actions as a world model takes them (see the card's `action`). */
export interface ModelActions {
  names: string[];
  low: number[];
  high: number[];
  discrete: boolean;
}

/**
 * The model's action space for an environment's actions: its actuators (units and bounds as
 * configured), or for a discrete set one dimension per choice, the choice taken as its one-hot
 * vector (as DreamerV3 feeds discrete actions): the choices' effects need not be ordered or
 * close to their actuator values' average.
 */
export function modelActions(actions: { actuators: readonly { name: string; low: number; high: number }[]; discrete?: readonly { name: string }[] }): ModelActions {
  if (actions.discrete) return { names: actions.discrete.map((c) => c.name), low: actions.discrete.map(() => 0), high: actions.discrete.map(() => 1), discrete: true };
  return { names: actions.actuators.map((a) => a.name), low: actions.actuators.map((a) => a.low), high: actions.actuators.map((a) => a.high), discrete: false };
}

/** What a ModelTarget says of an environment config's actions: a box's width, or a discrete set's choices (stored as one index). */
export function actionTarget(actions: { actuators: readonly unknown[]; discrete?: readonly { name: string }[] }): Pick<ModelTarget, 'discrete' | 'actionDims' | 'choices'> {
  return actions.discrete ? { discrete: true, actionDims: 1, choices: actions.discrete.map((c) => c.name) } : { discrete: false, actionDims: actions.actuators.length };
}

/** Choice indices (n of them) as one-hot rows of `choices` values; an index outside the set is an error naming `where`. */
export function oneHotActions(indices: ArrayLike<number>, choices: number, where: string): Float32Array {
  const out = new Float32Array(indices.length * choices);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    if (!Number.isInteger(k) || k < 0 || k >= choices) throw new TrajforgeError('E_DATASET_INVALID', `${where}: action ${k} at step ${i} is not one of the ${choices} choices (0-${choices - 1})`);
    out[i * choices + k] = 1;
  }
  return out;
}

/** How a model reads a dataset's episodes into transitions: its camera and downsampling, a discrete set's choices as one-hot rows. */
export function cardTransitionOptions(card: ModelCard): { camera: string; downsample: number; choices?: number } {
  return { camera: card.camera, downsample: card.input.downsample, ...(card.action.discrete ? { choices: card.action.names.length } : {}) };
}

/** The choice of each row of n one-hot-like values: the index of its largest value. */
export function choicesOf(values: Float32Array, choices: number): Float32Array {
  const n = values.length / choices;
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let k = 1; k < choices; k++) if (values[r * choices + k]! > values[r * choices + best]!) best = k;
    out[r] = best;
  }
  return out;
}

/**
 * The one compatibility check of a model against a dataset or environment, run by every command
 * that takes both (eval, encode, predict, dream) before it reads frames or writes anything: same
 * environment id, the model's camera with rgb at the encoder's size, continuous actions of the
 * model's width. A different config hash under the same id is allowed (a tweaked scene) and
 * returned as a note for the caller to print.
 */
export function checkModelTarget(card: ModelCard, target: ModelTarget): { note?: string } {
  const { where } = target;
  if (target.envId !== card.dataset.env_id) {
    throw new TrajforgeError(
      'E_USAGE',
      `${where} is ${target.envId}, but the model was trained on ${card.dataset.env_id}; use a model trained on ${target.envId} (trajforge train) or data of ${card.dataset.env_id}`,
    );
  }
  const cam = target.cameras.find((c) => c.name === card.camera && (c.channels?.includes('rgb') ?? true));
  if (!cam) {
    const have = target.cameras.filter((c) => c.channels?.includes('rgb') ?? true).map((c) => `${c.name} ${c.width}x${c.height}`);
    throw new TrajforgeError('E_MODEL_SHAPE', `${where} has no rgb camera '${card.camera}' (the model's camera; it has ${have.length ? have.join(', ') : 'no rgb cameras'})`);
  }
  checkCameraSize(card, cam.width, cam.height, where);
  if (target.discrete !== (card.action.discrete ?? false)) {
    throw new TrajforgeError('E_MODEL_SHAPE', target.discrete ? `${where} has a discrete action set; the model takes continuous actions (${card.action.names.join(', ')})` : `${where} has continuous actions; the model takes a choice among ${card.action.names.join(', ')}`);
  }
  if (target.discrete) {
    if (target.choices && target.choices.join('\u0000') !== card.action.names.join('\u0000')) {
      throw new TrajforgeError('E_MODEL_SHAPE', `${where}'s choices are ${target.choices.join(', ')}; the model's are ${card.action.names.join(', ')}`);
    }
  } else if (target.actionDims !== card.action.names.length) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${where} has ${target.actionDims} action dims; the model takes ${card.action.names.length} (${card.action.names.join(', ')})`);
  }
  return target.configHash === card.dataset.config_hash
    ? {}
    : { note: `${where}: ${target.envId}'s config differs from the one the model was trained on (hash ${card.dataset.config_hash.slice(0, 12)})` };
}

/** A dataset's metadata (meta/trajforge.json) as a ModelTarget. */
export function datasetTarget(
  meta: { envId: string; configHash: string; cameras: ModelTarget['cameras']; discrete: boolean; actionNames: readonly string[]; config?: { actions: { discrete?: readonly { name: string }[] } } },
  where: string,
): ModelTarget {
  // The widths the dataset's own record declares (its action names), which its rows are read by;
  // the choices' names come from its config.
  const choices = meta.config?.actions.discrete?.map((c) => c.name);
  return { where, envId: meta.envId, configHash: meta.configHash, cameras: meta.cameras, discrete: meta.discrete, actionDims: meta.discrete ? 1 : meta.actionNames.length, ...(choices ? { choices } : {}) };
}

/** The card's state read-out as a function of one latent, writing S values into `out` (arrays hoisted for loops). */
export function stateReader(card: ModelCard): (z: Float32Array, out: Float32Array) => void {
  const { latent_dims: dims, mean, std, readout } = card.state;
  const S = card.state.names.length;
  const L = card.latent;
  const m = Float64Array.from(mean);
  const s = Float64Array.from(std);
  if (readout) {
    const w = Float64Array.from(readout.weights);
    const b = Float64Array.from(readout.bias);
    return (z, out) => {
      for (let i = 0; i < S; i++) {
        let v = b[i]!;
        for (let j = 0; j < L; j++) v += z[j]! * w[j * S + i]!;
        out[i] = v * s[i]! + m[i]!;
      }
    };
  }
  const d = Int32Array.from(dims);
  return (z, out) => {
    for (let i = 0; i < S; i++) out[i] = z[d[i]!]! * s[i]! + m[i]!;
  };
}
