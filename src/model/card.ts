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
  /** latent-mlp: the learned model; linear: PCA + bilinear ridge (`--model linear`). */
  kind: z.enum(['latent-mlp', 'linear']),
  created: z.string(),
  dataset: z.strictObject({
    path: z.string(),
    env_id: z.string(),
    config_hash: z.string(),
    episodes: z.number().int().nonnegative(),
    frames: z.number().int().nonnegative(),
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
  }),
  state: z.strictObject({
    /** State features tied to z[latent_dims[i]] as (value - mean[i]) / std[i] during training. */
    names: z.array(z.string()),
    latent_dims: z.array(z.number().int().nonnegative()),
    mean: z.array(z.number()),
    std: z.array(z.number()),
  }),
  split: z.strictObject({ train: z.array(z.number().int()), heldout: z.array(z.number().int()) }),
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
  return parsed.data;
}

/** Throws unless a camera of width × height is what the model's encoder takes. */
export function checkCameraSize(card: ModelCard, width: number, height: number, where: string): void {
  if (width !== card.input.width || height !== card.input.height) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${where}: camera '${card.camera}' is ${width}x${height}; the model's encoder takes ${card.input.width}x${card.input.height} frames`);
  }
}
