import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { writeFileAtomic } from '../output/atomic.js';
import { MODEL_ENTRIES, writeOutput, preflightOutput } from '../output/folder.js';
import type { ModelCard } from '../model/card.js';
import { cardParts, exportLatentModel, exportLinearModel, PART_NAMES, type PartName } from '../model/export.js';
import { fitLinearHeads, fitLinearWorldModel } from '../model/linear-baseline.js';
import { DEFAULT_LATENT_OPTIONS, trainLatentModel, type LatentModelOptions, type TrainingLogEntry } from '../model/latent-model.js';
import { saveModel } from '../model/store.js';
import { intOption, numberOption, parse } from './args.js';
import { outputOptions, type CliIO, type Command } from './io.js';
import { loadModelData, splitEpisodes } from './model-data.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'fit a latent world model (encoder, decoder, dynamics + reward/done, inverse) and export it as ONNX',
  usage:
    'trajforge train DATASET --out MODEL_DIR [--model latent|linear] [--epochs 12] [--latent 128] [--camera NAME] [--seed 0] [--hidden 128] [--keypoints 12 (colour keypoints; 0: none)] ' +
    '[--rollout 8] [--state-weight 1 (0: no state supervision)] [--dynamics-noise NOISE (start-latent noise, in typical steps)] ' +
    '[--sprites 5 (sprite size of the decoder; 0: PCA decoder)] [--sprite-count 8] [--downsample auto] [--overwrite (replace a model folder this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        out: { type: 'string' },
        epochs: { type: 'string' },
        latent: { type: 'string' },
        camera: { type: 'string' },
        seed: { type: 'string' },
        hidden: { type: 'string' },
        keypoints: { type: 'string' },
        rollout: { type: 'string' },
        model: { type: 'string' },
        'state-weight': { type: 'string' },
        'dynamics-noise': { type: 'string' },
        sprites: { type: 'string' },
        'sprite-count': { type: 'string' },
        downsample: { type: 'string' },
        overwrite: { type: 'boolean' },
      },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const epochs = intOption(values.epochs as string | undefined, 'epochs', DEFAULT_LATENT_OPTIONS.stateEpochs, 1);
    const keypoints = intOption(values.keypoints as string | undefined, 'keypoints', DEFAULT_LATENT_OPTIONS.keypoints, 0);
    const options: LatentModelOptions = {
      ...DEFAULT_LATENT_OPTIONS,
      latent: intOption(values.latent as string | undefined, 'latent', DEFAULT_LATENT_OPTIONS.latent, 2),
      hidden: intOption(values.hidden as string | undefined, 'hidden', DEFAULT_LATENT_OPTIONS.hidden, 4),
      keypoints,
      rolloutSteps: intOption(values.rollout as string | undefined, 'rollout', DEFAULT_LATENT_OPTIONS.rolloutSteps, 1),
      stateWeight: numberOption(values['state-weight'] as string | undefined, 'state-weight', DEFAULT_LATENT_OPTIONS.stateWeight),
      dynamicsNoise: numberOption(values['dynamics-noise'] as string | undefined, 'dynamics-noise', DEFAULT_LATENT_OPTIONS.dynamicsNoise),
      seed: intOption(values.seed as string | undefined, 'seed', 0),
      // Sprites are drawn at the colour keypoints: without keypoints the decoder is the PCA stem's inverse.
      sprites: intOption(values.sprites as string | undefined, 'sprites', keypoints > 0 ? DEFAULT_LATENT_OPTIONS.sprites : 0, 0),
      spriteCount: intOption(values['sprite-count'] as string | undefined, 'sprite-count', DEFAULT_LATENT_OPTIONS.spriteCount, 1),
      stateEpochs: epochs,
      dynamicsEpochs: Math.max(1, Math.ceil(epochs / 2)),
    };
    if (options.sprites > 0 && (options.sprites % 2 === 0 || options.keypoints === 0)) {
      throw new TrajforgeError('E_USAGE', `--sprites must be 0 or an odd size, and needs --keypoints > 0 (got --sprites ${options.sprites}, --keypoints ${options.keypoints})`);
    }
    if (!(options.dynamicsNoise >= 0)) throw new TrajforgeError('E_USAGE', `--dynamics-noise must be >= 0, got ${options.dynamicsNoise}`);
    const kind = (values.model as string | undefined) ?? 'latent';
    if (kind !== 'latent' && kind !== 'linear') throw new TrajforgeError('E_USAGE', `--model must be latent or linear, got '${kind}'`);
    const downsample = values.downsample ? intOption(values.downsample as string, 'downsample', 1, 1) : undefined;
    const out = resolve(io.cwd, values.out as string);
    const outputSpec = outputOptions(io, { kind: 'model', command: 'train', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: MODEL_ENTRIES, accepts: ['overwrite'], inputs: [dataset] });
    // A refused output is known before the data is read; the folder is emptied (--overwrite) only
    // once the data has been read and checked, so a bad dataset or option keeps the old model.
    preflightOutput(out, outputSpec);
    const started = performance.now();
    io.err(`reading ${dataset} ...\n`);
    const data = await loadModelData(dataset, io.cwd, { camera: values.camera as string | undefined, downsample });
    await writeOutput(out, outputSpec, (folder) => trainInto(out, { data, started, dataset, values, options, kind, heartbeat: () => folder.touch() }, io));
    return 0;
  },
};

/** Trains and saves into `out`; `heartbeat` keeps the output's lock fresh between epochs (training is synchronous). */
async function trainInto(
  out: string,
  x: { data: Awaited<ReturnType<typeof loadModelData>>; started: number; dataset: string; values: Record<string, unknown>; options: LatentModelOptions; kind: string; heartbeat: () => void },
  io: CliIO,
): Promise<void> {
  const { data, started, dataset, values, options, kind } = x;
  const t = data.transitions;
  const split = splitEpisodes(data.episodes.length);
  io.err(`${data.episodes.length} episodes (${split.train.length} train, ${split.heldout.length} held out), ${t.frames.rows} frames at ${t.width}x${t.height} from camera '${data.camera}'\n`);
  const actuators = data.meta.config.actions.actuators;
  const bounds = { low: Float32Array.from(actuators.map((a) => a.low)), high: Float32Array.from(actuators.map((a) => a.high)) };
  if (kind === 'linear') {
    // The PCA + bilinear-ridge baseline as a model directory: closed form, seconds.
    const linear = fitLinearWorldModel(t, split.train, { latent: options.latent, seed: options.seed, maxFitFrames: 2000 });
    const parts = exportLinearModel(linear, fitLinearHeads(linear, t, split.train), t.actions.cols);
    const seconds = (performance.now() - started) / 1000;
    const shape = { kind: 'linear' as const, inputWidth: t.source.width, inputHeight: t.source.height, width: t.width, height: t.height, latent: linear.pca.components.rows, actionDim: t.actions.cols, state: { names: [], latent_dims: [], mean: [], std: [] } };
    const card = buildCard({ parts, shape, log: [], options, seconds, data, split });
    saveModel(out, card, parts);
    io.out(`linear world model ${card.id} -> ${values.out}\n`);
    io.out(`  PCA ${shape.latent} + bilinear ridge on ${split.train.length} episodes, ${t.frames.rows} frames (${t.width}x${t.height}), in ${seconds.toFixed(1)} s\n`);
  } else if (kind === 'latent') {
    const { model, log } = trainLatentModel(t, split.train, bounds, options, withHeartbeat(progressReporter(io), x.heartbeat));
    const parts = exportLatentModel(model);
    const seconds = (performance.now() - started) / 1000;
    const state = {
      names: model.stateColumns.map((c) => data.meta.observationNames[c] ?? `state.${c}`),
      latent_dims: model.stateColumns.map((_, i) => model.coefficients + i),
      mean: [...model.stateMean],
      std: [...model.stateStd],
    };
    const card = buildCard({ parts, shape: { kind: 'latent-mlp', inputWidth: model.inputWidth, inputHeight: model.inputHeight, width: model.width, height: model.height, latent: model.latent, actionDim: model.actionDim, state }, log, options, seconds, data, split });
    saveModel(out, card, parts);
    writeFileAtomic(resolve(out, 'training_log.jsonl'), log.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const last = (phase: TrainingLogEntry['phase']) => log.filter((e) => e.phase === phase).at(-1);
    io.out(`world model ${card.id} -> ${values.out}\n`);
    io.out(`  trained on    ${split.train.length} episodes, ${t.frames.rows} frames (${t.width}x${t.height}), latent ${model.latent}, in ${seconds.toFixed(1)} s\n`);
    io.out(`  state-head MSE (normalised) ${last('state')?.parts.state_mse?.toFixed(3) ?? 'n/a (no state supervision)'}\n`);
    io.out(`  dynamics Δz NMSE ${last('dynamics')?.parts.latent_delta_nmse?.toFixed(4)}  inverse MSE ${last('dynamics')?.parts.inverse_mse?.toFixed(4)}\n`);
  }
  io.out(`  evaluate: trajforge eval --model ${values.out} ${dataset}\n`);
}

interface ModelShape {
  kind: ModelCard['kind'];
  /** Encoder input (camera) size; width × height is the decoded size. */
  inputWidth: number;
  inputHeight: number;
  width: number;
  height: number;
  latent: number;
  actionDim: number;
  state: ModelCard['state'];
}

function buildCard(x: {
  parts: Record<PartName, Uint8Array>;
  shape: ModelShape;
  log: TrainingLogEntry[];
  options: LatentModelOptions;
  seconds: number;
  data: Awaited<ReturnType<typeof loadModelData>>;
  split: { train: number[]; heldout: number[] };
}): ModelCard {
  const { shape: model, data } = x;
  const all = new Uint8Array(PART_NAMES.reduce((s, p) => s + x.parts[p].length, 0));
  let off = 0;
  for (const p of PART_NAMES) {
    all.set(x.parts[p], off);
    off += x.parts[p].length;
  }
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  const actuators = data.meta.config.actions.actuators;
  const final: Record<string, number> = {};
  for (const e of x.log) for (const [k, v] of Object.entries(e.parts)) final[`${e.phase}.${k}`] = v;
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
      frames: data.transitions.frames.rows,
    },
    camera: data.camera,
    input: { width: model.inputWidth, height: model.inputHeight, channels: 3, layout: 'NHWC', range: [0, 1], downsample: data.downsample },
    decoded: { width: model.width, height: model.height },
    latent: model.latent,
    action: { names: data.meta.actionNames, low: actuators.map((a) => finite(a.low)), high: actuators.map((a) => finite(a.high)) },
    state: model.state,
    split: x.split,
    training: { seed: x.options.seed, seconds: x.seconds, options: { ...x.options }, final },
    parts: cardParts(model),
  };
}

function withHeartbeat<E>(report: (e: E) => void, heartbeat: () => void): (e: E) => void {
  return (e) => {
    heartbeat();
    report(e);
  };
}

function progressReporter(io: CliIO) {
  const started = performance.now();
  let lastLine = 0;
  return (e: TrainingLogEntry & { epochs: number }) => {
    const elapsed = (performance.now() - started) / 1000;
    const parts = Object.entries(e.parts)
      .map(([k, v]) => `${k} ${v < 0.01 ? v.toExponential(2) : v.toFixed(4)}`)
      .join('  ');
    if (io.isTTY) {
      const width = 20;
      const filled = Math.round((width * e.epoch) / e.epochs);
      io.err(`\r${e.phase.padEnd(11)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${e.epoch}/${e.epochs}  ${parts}  ${elapsed.toFixed(0)} s   ${e.epoch === e.epochs ? '\n' : ''}`);
    } else if (elapsed - lastLine >= 2 || e.epoch === e.epochs) {
      lastLine = elapsed;
      io.err(`${e.phase} epoch ${e.epoch}/${e.epochs}  ${parts}  ${elapsed.toFixed(0)} s\n`);
    }
  };
}
