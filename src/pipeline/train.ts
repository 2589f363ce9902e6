import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { MODEL_ENTRIES, openOutput, preflightOutput, writeOutput, type OutputOptions } from '../output/folder.js';
import { DEFAULT_CONV_OPTIONS, DEFAULT_GLOBAL_LATENT, type ConvOptions } from '../model/conv/train.js';
import { keypointLatentDims } from '../model/conv/network.js';
import { fitConv } from './train-conv.js';
import type { ModelCard } from '../model/card.js';
import { exportLatentModel } from '../model/keypoints/export.js';
import { DEFAULT_LATENT_OPTIONS, trainLatentModel, type LatentModelOptions } from '../model/keypoints/train.js';
import { exportLinearModel } from '../model/linear/export.js';
import { fitLinearOnnx, pcaComponentsFor } from '../model/linear/model.js';
import type { TrainingLogEntry } from '../model/training-log.js';
import { saveModel } from '../model/store.js';
import { buildModelCard } from './model-card.js';
import { loadModelData, splitEpisodes, type ModelData } from './model-data.js';
import { checkInt, checkNumber, checkThreads, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/**
 * conv: the convolutional model, learned from pixels (the default); keypoints: colour keypoints +
 * sprites, a hand-built model of scenes of rigid single-colour objects ('latent' is its former
 * name); linear: PCA + bilinear ridge, closed form.
 */
export type WorldModelKind = 'conv' | 'keypoints' | 'linear';
const KINDS = ['conv', 'keypoints', 'linear', 'latent'] as const;

/** The training data, as read. */
export interface TrainData {
  /** Episodes in the dataset, of which `trainEpisodes` train and `heldoutEpisodes` (every 5th) are held out. */
  episodes: number;
  trainEpisodes: number;
  heldoutEpisodes: number;
  /** Frames (steps plus each episode's final frame) at the model's size, width × height. */
  frames: number;
  /** Of those, the training episodes' (the rest are held out). */
  trainFrames: number;
  width: number;
  height: number;
  camera: string;
}

function trainData(data: Awaited<ReturnType<typeof loadModelData>>, split: { train: number[]; heldout: number[] }): TrainData {
  const t = data.transitions;
  const trainFrames = split.train.reduce((n, e) => n + t.lengths[e]! + 1, 0);
  return { episodes: data.episodes.length, trainEpisodes: split.train.length, heldoutEpisodes: split.heldout.length, frames: t.states.rows, trainFrames, width: t.width, height: t.height, camera: data.camera };
}

/**
 * read: done 0 of 1 when reading starts, 1 of 1 (with `data`) once the dataset is read and checked;
 * state / dynamics: one event per epoch of the latent model's training phases, with the epoch's
 * losses; fit: the linear model's closed-form fit (0 of 1, then 1 of 1).
 */
export type TrainProgress =
  | (StageProgress<'read'> & { data?: TrainData })
  | (StageProgress<TrainingLogEntry['phase']> & { losses: Record<string, number> })
  | StageProgress<'fit'>;

export interface TrainOptions extends PipelineCallbacks<TrainProgress> {
  /** A trajforge LeRobot dataset with continuous actions and an rgb camera; named in errors as given. */
  dataset: string;
  /** The model folder: absent or empty, or (with `overwrite`) a model trajforge wrote. */
  out: string;
  /** Replace a model trajforge wrote at `out`; it is emptied only once the data has been read and checked. */
  overwrite?: boolean;
  /** The model family. Default conv. */
  kind?: WorldModelKind | 'latent';
  /** The rgb camera to model (default: the dataset's first rgb camera). */
  camera?: string;
  /** Integer box-filter factor (default: down to at most 32 pixels a side). */
  downsample?: number;
  /** keypoints: state-phase epochs (the dynamics phase runs half as many, at least 1). Default 12. */
  epochs?: number;
  /** Latent size (>= 2). Default 96 (conv), 128 (keypoints). */
  latent?: number;
  /** Hidden width of the MLPs (>= 4). Default 256 (conv), 128 (keypoints). */
  hidden?: number;
  /** conv: gradient steps. Default 2000. */
  steps?: number;
  /** conv: sequences per step. Default 8. */
  batch?: number;
  /** conv: channels of the first convolution (later ones double it). Default 16. */
  depth?: number;
  /** conv: Adam's peak learning rate. Default 1e-3. */
  learningRate?: number;
  /** conv: stop after this many seconds of training, with a usable model (resume continues). */
  budgetSeconds?: number;
  /** conv: continue the run whose checkpoint is in `out` (after a kill or a budget stop). */
  resume?: boolean;
  /** conv: frames the encoder sees: 1 (each frame alone) or 2 (each frame and the one before it, so z holds velocities). Default 2. */
  context?: number;
  /** conv: the decoder draws z's keypoints as Gaussian maps into its last two layers. Default true. */
  keypointMaps?: boolean;
  /** conv: learned keypoints (spatial soft-argmax) at the end of z. Default 16. */
  learnedKeypoints?: number;
  /**
   * conv: CPU threads for training. Default 2. With 2 or more (native runtime, CPU), the batch is
   * split into that many shards trained in parallel worker threads (see parallel/gradient-shards.ts).
   * A run is reproducible for a given thread count; another count sums in another order.
   */
  threads?: number;
  /** Colour keypoints (0: none). Default 12. */
  keypoints?: number;
  /** Open-loop rollout steps of the dynamics loss (>= 1). Default 8. */
  rollout?: number;
  /** Weight of the state supervision (0: none). Default 10 (conv), 1 (keypoints). */
  stateWeight?: number;
  /** Weight of the inverse-dynamics loss (conv; 0: none). Default 50. */
  inverseWeight?: number;
  /** Share of training sequences shown with 4:2:0 colour, as H.264 / VP9 video has it (conv; 0 to 1). Default 0.5. */
  augmentChroma?: number;
  /** Start-latent noise of the dynamics phase, in typical steps (>= 0). Default 1.5. */
  dynamicsNoise?: number;
  seed?: number;
  /** Sprite size of the decoder: 0 (PCA decoder) or odd, and only with keypoints. Default 5 with keypoints, else 0. */
  sprites?: number;
  /** Sprites per keypoint (>= 1). Default 8. */
  spriteCount?: number;
}

export interface TrainSummary {
  /** The absolute model folder. */
  dir: string;
  kind: WorldModelKind;
  /** conv: gradient steps done, and whether the time budget stopped training before all of them. */
  steps?: { done: number; planned: number; stopped: boolean };
  /** The model's card (model.json); `card.id` is the content hash of its ONNX files. */
  card: ModelCard;
  data: TrainData;
  latent: number;
  /** Seconds from the call to the saved model, reading included. */
  seconds: number;
  /**
   * The last epoch's figures (latent models): the normalised state-head MSE (absent without state
   * supervision), the dynamics' latent-delta NMSE and the inverse-dynamics MSE.
   */
  final: { stateMse?: number; latentDeltaNmse?: number; inverseMse?: number };
  /** Every epoch's losses (empty for the linear model); also written to training_log.jsonl. */
  log: TrainingLogEntry[];
}

/**
 * Fits a world model on a LeRobot dataset and saves it as ONNX parts plus model.json. The dataset
 * is read and checked before the output folder is touched, so a bad dataset or option keeps an
 * old model at `out`.
 */
export async function trainWorldModel(opts: TrainOptions): Promise<TrainSummary> {
  const requested = opts.kind ?? 'conv';
  if (!(KINDS as readonly string[]).includes(requested)) throw new TrajforgeError('E_USAGE', `--arch must be conv, keypoints or linear, got '${String(requested)}'`);
  const kind: WorldModelKind = requested === 'latent' ? 'keypoints' : requested;
  refuseOtherFamilysOptions(opts, kind);
  if (kind === 'conv') return trainConv(opts);
  const elapsed = stopwatch();
  const options = latentOptions(opts);
  if (opts.downsample !== undefined) checkInt(opts.downsample, 'downsample', 1);
  const out = resolveIn(opts.cwd, opts.out);
  const spec: OutputOptions = { kind: 'model', command: 'train', mode: opts.overwrite ? 'overwrite' : 'new', entries: MODEL_ENTRIES, accepts: ['overwrite'], inputs: [opts.dataset], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  // A refused output is known before the data is read; the folder is emptied (--overwrite) only
  // once the data has been read and checked, so a bad dataset or option keeps the old model.
  preflightOutput(out, spec);
  opts.onProgress?.({ stage: 'read', done: 0, total: 1, elapsed: elapsed() });
  const data = await loadModelData(opts.dataset, opts.cwd, { camera: opts.camera, downsample: opts.downsample });
  const split = splitEpisodes(data.episodes.length);
  const read = trainData(data, split);
  opts.onProgress?.({ stage: 'read', done: 1, total: 1, elapsed: elapsed(), data: read });
  return writeOutput(out, spec, async (folder) => {
    const trained = kind === 'linear' ? await fitLinear(data, split, options, opts, elapsed) : fitLatent(data, split, options, opts, elapsed, () => folder.touch());
    const seconds = elapsed();
    const card = buildModelCard({ ...trained, options: { ...options }, seconds, data, split });
    saveModel(out, card, trained.parts);
    if (kind === 'keypoints') writeFileAtomic(join(out, 'training_log.jsonl'), trained.log.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const last = (phase: TrainingLogEntry['phase']) => trained.log.filter((e) => e.phase === phase).at(-1)?.parts;
    const final = { stateMse: last('state')?.state_mse, latentDeltaNmse: last('dynamics')?.latent_delta_nmse, inverseMse: last('dynamics')?.inverse_mse };
    return { dir: out, kind, card, data: read, latent: trained.shape.latent, seconds, final, log: trained.log };
  });
}

/** Options of one family given to another are a mistake worth naming, not something to ignore. */
const FAMILY_OPTIONS: Record<WorldModelKind, (keyof TrainOptions)[]> = {
  conv: ['steps', 'batch', 'depth', 'learningRate', 'budgetSeconds', 'resume', 'threads', 'learnedKeypoints', 'context', 'keypointMaps', 'inverseWeight', 'augmentChroma'],
  keypoints: ['epochs', 'keypoints', 'dynamicsNoise', 'sprites', 'spriteCount', 'downsample'],
  linear: ['downsample'],
};
const FLAGS: Partial<Record<keyof TrainOptions, string>> = { learningRate: 'lr', budgetSeconds: 'budget', dynamicsNoise: 'dynamics-noise', spriteCount: 'sprite-count', learnedKeypoints: 'learned-keypoints', keypointMaps: 'keypoint-maps', inverseWeight: 'inverse-weight', augmentChroma: 'augment-chroma' };

function refuseOtherFamilysOptions(opts: TrainOptions, kind: WorldModelKind): void {
  for (const [family, keys] of Object.entries(FAMILY_OPTIONS) as [WorldModelKind, (keyof TrainOptions)[]][]) {
    if (family === kind) continue;
    for (const key of keys) {
      if (FAMILY_OPTIONS[kind].includes(key)) continue;
      const v = opts[key];
      if (v !== undefined && v !== false) throw new TrajforgeError('E_USAGE', `--${FLAGS[key] ?? key} applies to --arch ${family}, not to --arch ${kind}${kind === 'conv' ? ' (the default)' : ''}; pass --arch ${family} to train that model`);
    }
  }
}

/**
 * Upper bounds of the size options: generous for any machine (the defaults are latent 160, hidden
 * 256, depth 16, batch 8 of 8 steps), low enough that a typo is refused rather than allocated
 * (--hidden 1e9 asked for a 650 GB weight matrix).
 */
const MAX_SIZE = { latent: 4096, hidden: 16384, depth: 512, batch: 4096, rollout: 1000, keypoints: 512 };

/** `--arch conv`: reads at the camera's resolution, trains with checkpoints, resumes. */
async function trainConv(opts: TrainOptions): Promise<TrainSummary> {
  const elapsed = stopwatch();
  const D = DEFAULT_CONV_OPTIONS;
  const keypoints = checkInt(opts.learnedKeypoints ?? D.keypoints, 'learned-keypoints', 0, MAX_SIZE.keypoints);
  const context = checkInt(opts.context ?? D.context, 'context', 1);
  const options: ConvOptions = {
    // By default the keypoints' dims plus the bottleneck's: --learned-keypoints alone keeps the rest of z.
    latent: checkInt(opts.latent ?? DEFAULT_GLOBAL_LATENT + keypointLatentDims(keypoints, context), 'latent', 2, MAX_SIZE.latent),
    hidden: checkInt(opts.hidden ?? D.hidden, 'hidden', 4, MAX_SIZE.hidden),
    depth: checkInt(opts.depth ?? D.depth, 'depth', 1, MAX_SIZE.depth),
    batch: checkInt(opts.batch ?? D.batch, 'batch', 1, MAX_SIZE.batch),
    rollout: checkInt(opts.rollout ?? D.rollout, 'rollout', 1, MAX_SIZE.rollout),
    steps: checkInt(opts.steps ?? D.steps, 'steps', 1),
    learningRate: checkNumber(opts.learningRate ?? D.learningRate, 'lr'),
    stateWeight: checkNumber(opts.stateWeight ?? D.stateWeight, 'state-weight'),
    inverseWeight: checkNumber(opts.inverseWeight ?? D.inverseWeight, 'inverse-weight'),
    augmentChroma: checkNumber(opts.augmentChroma ?? D.augmentChroma, 'augment-chroma'),
    coords: D.coords,
    keypoints,
    context,
    decoderMaps: opts.keypointMaps === undefined ? D.decoderMaps : opts.keypointMaps ? 1 : 0,
    seed: checkInt(opts.seed ?? 0, 'seed', 0),
  };
  if (options.context > 2) throw new TrajforgeError('E_USAGE', `--context must be 1 (the frame alone) or 2 (the frame and the one before it), got ${options.context}`);
  const keypointDims = keypointLatentDims(options.keypoints, options.context);
  if (options.latent <= keypointDims) throw new TrajforgeError('E_USAGE', `--latent ${options.latent} must exceed ${keypointDims}: ${options.keypoints} learned keypoints take ${keypointDims} latent dims${options.context > 1 ? ' (position and motion)' : ''}; raise --latent or lower --learned-keypoints`);
  if (!(options.learningRate > 0)) throw new TrajforgeError('E_USAGE', `--lr must be > 0, got ${options.learningRate}`);
  if (!(options.stateWeight >= 0)) throw new TrajforgeError('E_USAGE', `--state-weight must be >= 0, got ${options.stateWeight}`);
  if (!(options.inverseWeight >= 0)) throw new TrajforgeError('E_USAGE', `--inverse-weight must be >= 0, got ${options.inverseWeight}`);
  if (!(options.augmentChroma >= 0 && options.augmentChroma <= 1)) throw new TrajforgeError('E_USAGE', `--augment-chroma must be a share between 0 and 1, got ${options.augmentChroma}`);
  if (opts.budgetSeconds !== undefined && !(opts.budgetSeconds > 0)) throw new TrajforgeError('E_USAGE', `--budget must be a positive duration, got ${opts.budgetSeconds} s`);
  const threads = checkThreads(opts.threads ?? 2);
  const out = resolveIn(opts.cwd, opts.out);
  const spec: OutputOptions = {
    kind: 'model',
    command: 'train',
    mode: opts.resume ? 'resume' : opts.overwrite ? 'overwrite' : 'new',
    entries: MODEL_ENTRIES,
    accepts: ['overwrite', 'resume'],
    resumable: true,
    inputs: [opts.dataset],
    cwd: opts.cwd,
    onNotice: outputNotices(opts.onNotice),
  };
  preflightOutput(out, spec);
  opts.onProgress?.({ stage: 'read', done: 0, total: 1, elapsed: elapsed() });
  const data = await loadModelData(opts.dataset, opts.cwd, { camera: opts.camera, downsample: 1 });
  const split = splitEpisodes(data.episodes.length);
  const read = trainData(data, split);
  opts.onProgress?.({ stage: 'read', done: 1, total: 1, elapsed: elapsed(), data: read });
  const folder = openOutput(out, spec);
  try {
    const trained = await fitConv({
      data,
      split,
      options,
      dir: out,
      resume: opts.resume === true,
      budgetSeconds: opts.budgetSeconds,
      onnx: { threads },
      heartbeat: () => folder.touch(),
      onNotice: outputNotices(opts.onNotice),
      onStep: (done, total, losses) => opts.onProgress?.({ stage: 'train', done, total, elapsed: elapsed(), losses }),
    });
    const seconds = elapsed();
    const card = buildModelCard({ ...trained, options: { ...options, steps_done: trained.steps }, seconds, data, split });
    saveModel(out, card, trained.parts);
    writeFileAtomic(join(out, 'training_log.jsonl'), trained.log.map((e) => JSON.stringify(e)).join('\n') + '\n');
    folder.close();
    return { dir: out, kind: 'conv', steps: { done: trained.steps, planned: options.steps, stopped: trained.stopped }, card, data: read, latent: options.latent, seconds, final: {}, log: trained.log };
  } catch (e) {
    const cause = folder.failure(e);
    // The checkpoint stays for --resume; a run that wrote nothing leaves nothing.
    folder.abandon();
    throw cause;
  }
}

/** The latent model's options from the caller's, with the CLI's defaults; every value checked. */
function latentOptions(opts: TrainOptions): LatentModelOptions {
  const D = DEFAULT_LATENT_OPTIONS;
  const epochs = checkInt(opts.epochs ?? D.stateEpochs, 'epochs', 1);
  const keypoints = checkInt(opts.keypoints ?? D.keypoints, 'keypoints', 0);
  const options: LatentModelOptions = {
    ...D,
    latent: checkInt(opts.latent ?? D.latent, 'latent', 2, MAX_SIZE.latent),
    hidden: checkInt(opts.hidden ?? D.hidden, 'hidden', 4, MAX_SIZE.hidden),
    keypoints,
    rolloutSteps: checkInt(opts.rollout ?? D.rolloutSteps, 'rollout', 1, MAX_SIZE.rollout),
    stateWeight: checkNumber(opts.stateWeight ?? D.stateWeight, 'state-weight'),
    dynamicsNoise: checkNumber(opts.dynamicsNoise ?? D.dynamicsNoise, 'dynamics-noise'),
    seed: checkInt(opts.seed ?? 0, 'seed', 0),
    // Sprites are drawn at the colour keypoints: without keypoints the decoder is the PCA stem's inverse.
    sprites: checkInt(opts.sprites ?? (keypoints > 0 ? D.sprites : 0), 'sprites', 0),
    spriteCount: checkInt(opts.spriteCount ?? D.spriteCount, 'sprite-count', 1),
    stateEpochs: epochs,
    dynamicsEpochs: Math.max(1, Math.ceil(epochs / 2)),
  };
  if (options.sprites > 0 && (options.sprites % 2 === 0 || options.keypoints === 0)) {
    throw new TrajforgeError('E_USAGE', `--sprites must be 0 or an odd size, and needs --keypoints > 0 (got --sprites ${options.sprites}, --keypoints ${options.keypoints})`);
  }
  if (!(options.dynamicsNoise >= 0)) throw new TrajforgeError('E_USAGE', `--dynamics-noise must be >= 0, got ${options.dynamicsNoise}`);
  return options;
}

type Split = { train: number[]; heldout: number[] };
type Trained = Pick<Parameters<typeof buildModelCard>[0], 'parts' | 'shape' | 'log'>;

/** The PCA + bilinear-ridge baseline as a model directory: closed form, seconds. */
/** Frames the linear model's PCA is fitted on at most (evenly spaced over the training episodes). */
const LINEAR_FIT_FRAMES = 2000;

async function fitLinear(data: ModelData, split: Split, options: LatentModelOptions, opts: TrainOptions, elapsed: () => number): Promise<Trained> {
  const t = data.transitions;
  opts.onProgress?.({ stage: 'fit', done: 0, total: 1, elapsed: elapsed() });
  const { components, fitFrames } = pcaComponentsFor(t, split.train, options.latent, LINEAR_FIT_FRAMES);
  if (components < options.latent) opts.onNotice?.(`latent ${components}, not ${options.latent}: the training episodes hold ${fitFrames} frames, and a PCA of n frames has at most n - 1 components`, 'input');
  const linear = await fitLinearOnnx(t, split.train, { latent: components, seed: options.seed, maxFitFrames: LINEAR_FIT_FRAMES });
  const parts = exportLinearModel(linear.model, linear.heads, t.actions.cols);
  opts.onProgress?.({ stage: 'fit', done: 1, total: 1, elapsed: elapsed() });
  const shape = { kind: 'linear' as const, inputWidth: t.source.width, inputHeight: t.source.height, width: t.width, height: t.height, latent: linear.model.pca.components.rows, actionDim: t.actions.cols, state: { names: [], latent_dims: [], mean: [], std: [] } };
  return { parts, shape, log: [] };
}

/** The learned model; `heartbeat` keeps the output's lock fresh between epochs (training is synchronous). */
function fitLatent(data: ModelData, split: Split, options: LatentModelOptions, opts: TrainOptions, elapsed: () => number, heartbeat: () => void): Trained {
  const t = data.transitions;
  const actions = data.actions;
  const bounds = { low: Float32Array.from(actions.low), high: Float32Array.from(actions.high) };
  const { model, log } = trainLatentModel(t, split.train, bounds, options, (e) => {
    heartbeat();
    opts.onProgress?.({ stage: e.phase, done: e.epoch, total: e.epochs, elapsed: elapsed(), losses: e.parts });
  });
  const state = {
    names: model.stateColumns.map((c) => data.meta.observationNames[c] ?? `state.${c}`),
    latent_dims: model.stateColumns.map((_, i) => model.coefficients + i),
    mean: [...model.stateMean],
    std: [...model.stateStd],
  };
  const shape = { kind: 'latent-mlp' as const, inputWidth: model.inputWidth, inputHeight: model.inputHeight, width: model.width, height: model.height, latent: model.latent, actionDim: model.actionDim, state };
  return { parts: exportLatentModel(model), shape, log };
}
