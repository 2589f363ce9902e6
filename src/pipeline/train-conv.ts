/**
 * `train --arch conv`: the convolutional world model, trained in onnxruntime with a checkpoint
 * every 100 steps under MODEL_DIR/.trajforge-train, so a killed run resumes
 * (`resume`) to the same model an uninterrupted run gives, and a time budget stops early with a
 * usable model whose checkpoint a later `resume` continues.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { readArrays, writeArrays } from '../dataset/arrays.js';
import { writeFileAtomic } from '../output/atomic.js';
import { removeOwn } from '../output/remove.js';
import { exportConvModel } from '../model/conv/export.js';
import { startGradientShards } from '../parallel/gradient-shards.js';
import { paramSpecs } from '../model/conv/network.js';
import { initialState, prepareConvData, runTraining, type ConvOptions, type TrainState } from '../model/conv/train.js';
import type { TrainingLogEntry } from '../model/training-log.js';
import type { OnnxModelOptions } from '../model/onnx/runtime.js';
import type { ModelData } from './model-data.js';
import type { ModelShape } from './model-card.js';
import type { PartName } from '../model/export.js';

const STAGING = '.trajforge-train';
const CHECKPOINT = 'checkpoint.bin';
const RUN = 'run.json';
const LOG = 'log.json';
/** Checkpoints every 100 steps, or about ten times a run for short ones (a multiple of the log interval). */
function checkpointEvery(steps: number): number {
  const tenth = Math.ceil(steps / 10);
  return tenth < 25 ? tenth : Math.min(100, Math.ceil(tenth / 25) * 25);
}
/**
 * Steps between training-log entries (the card's final figures are the last entry). It divides
 * the checkpoint interval, so a resumed run writes the same log as an uninterrupted one.
 */
const logEvery = (steps: number) => Math.min(25, checkpointEvery(steps));

export interface ConvFitInputs {
  data: ModelData;
  split: { train: number[]; heldout: number[] };
  options: ConvOptions;
  /** The model folder (held by the caller). */
  dir: string;
  resume: boolean;
  /** Seconds of training after which to stop (with a usable model); undefined: none. */
  budgetSeconds?: number;
  onnx?: OnnxModelOptions;
  onStep?: (step: number, steps: number, losses: Record<string, number>) => void;
  heartbeat?: () => void;
  /** A user notice (resuming from a checkpoint). */
  onNotice?: (line: string) => void;
}

export interface ConvFit {
  parts: Record<PartName, Uint8Array>;
  shape: ModelShape;
  log: TrainingLogEntry[];
  /** Steps done (fewer than options.steps when the budget stopped training). */
  steps: number;
  stopped: boolean;
}

export async function fitConv(x: ConvFitInputs): Promise<ConvFit> {
  const { data, split, options: o } = x;
  const t = data.transitions;
  const actions = data.actions;
  const bounds = { low: Float32Array.from(actions.low), high: Float32Array.from(actions.high) };
  const d = await prepareConvData(t, split.train, bounds, o, x.onnx);
  const staging = join(x.dir, STAGING);
  // What a checkpoint must agree with to be continued: the options and the data it was made from.
  const run = JSON.stringify({ options: o, configHash: data.meta.configHash, frames: t.source.data.length, episodes: data.episodes.length, camera: data.camera, rollout: d.rollout }, null, 2);
  let state: TrainState;
  let log: TrainingLogEntry[] = [];
  if (x.resume && existsSync(join(staging, CHECKPOINT))) {
    if (!existsSync(join(staging, RUN)) || readFileSync(join(staging, RUN), 'utf8') !== run) {
      throw new TrajforgeError('E_DATASET_EXISTS', `${x.dir} holds a checkpoint of a training run with other options or data (see ${join(staging, RUN)}); resume with the same command, or --overwrite`, { file: join(staging, RUN) });
    }
    state = readCheckpoint(join(staging, CHECKPOINT), d.frame.shape);
    log = JSON.parse(readFileSync(join(staging, LOG), 'utf8')) as TrainingLogEntry[];
    x.onNotice?.(`resuming from the checkpoint at step ${state.step} of ${o.steps}`);
  } else {
    removeOwn(staging);
    mkdirSync(staging, { recursive: true });
    writeFileAtomic(join(staging, RUN), run);
    state = initialState(d.frame.shape, o.seed);
  }
  const started = performance.now();
  const sums: Record<string, number> = {};
  let counted = 0;
  const save = (s: TrainState) => {
    writeCheckpoint(join(staging, CHECKPOINT), s);
    writeFileAtomic(join(staging, LOG), JSON.stringify(log));
  };
  const result = await runTraining(
    d,
    o,
    state,
    {
      onStep: (r) => {
        for (const [k, v] of Object.entries(r.losses)) sums[k] = (sums[k] ?? 0) + v;
        counted++;
        if (r.step % logEvery(o.steps) === 0 || r.step === r.steps) {
          const parts = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / counted]));
          log.push({ phase: 'train', epoch: r.step, loss: parts.total!, parts });
          for (const k of Object.keys(sums)) delete sums[k];
          counted = 0;
        }
        if (r.step % 20 === 0) x.heartbeat?.();
        x.onStep?.(r.step, r.steps, r.losses as Record<string, number>);
      },
      checkpointEvery: checkpointEvery(o.steps),
      onCheckpoint: save,
      shouldStop: x.budgetSeconds === undefined ? undefined : () => (performance.now() - started) / 1000 >= x.budgetSeconds!,
    },
    x.onnx,
    {},
    { start: startGradientShards, onNotice: x.onNotice },
  );
  if (result.stopped) {
    // A budget stop keeps its checkpoint: `--resume` continues the schedule from here.
    if (counted > 0) log.push({ phase: 'train', epoch: result.state.step, loss: sums.total! / counted, parts: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / counted])) });
    save(result.state);
  } else removeOwn(staging);
  const model = { ...d.frame, params: result.state.params };
  const shape: ModelShape = {
    kind: 'conv',
    inputWidth: d.frame.input.width,
    inputHeight: d.frame.input.height,
    width: d.frame.input.width,
    height: d.frame.input.height,
    latent: o.latent,
    actionDim: t.actions.cols,
    context: o.context,
    state: convStateReadout(d.frame.state, result.state.params, data.meta.observationNames, o.latent, (c) => t.states.data[split.train.length > 0 ? t.frameStarts[split.train[0]!]! * t.states.cols + c : c]!),
  };
  return { parts: exportConvModel(model), shape, log, steps: result.state.step, stopped: result.stopped };
}

/**
 * The auxiliary state head as the card's linear read-out over the whole observation: the columns
 * it was trained on read z · state.w + state.b (un-normalised); the columns that never varied in
 * the training data read their constant. A full observation lets policies that take the
 * environment's observation (an expert in a dream, a BC policy trained on labelled video) read
 * the estimate. None when no state was a target.
 */
function convStateReadout(
  state: { columns: number[]; mean: Float32Array; std: Float32Array },
  params: Map<string, Float32Array>,
  names: readonly string[],
  latent: number,
  constant: (column: number) => number,
): ModelShape['state'] {
  const w = params.get('state.w');
  const b = params.get('state.b');
  if (state.columns.length === 0 || !w || !b) return { names: [], latent_dims: [], mean: [], std: [] };
  const S = names.length;
  const K = state.columns.length;
  const weights = new Array<number>(latent * S).fill(0);
  const bias = new Array<number>(S).fill(0);
  const mean = Array.from({ length: S }, (_, c) => constant(c));
  const std = new Array<number>(S).fill(1);
  state.columns.forEach((c, j) => {
    for (let i = 0; i < latent; i++) weights[i * S + c] = w[i * K + j]!;
    bias[c] = b[j]!;
    mean[c] = state.mean[j]!;
    std[c] = state.std[j]!;
  });
  return { names: [...names], latent_dims: [], mean, std, readout: { weights, bias } };
}

function writeCheckpoint(file: string, s: TrainState): void {
  const arrays: Record<string, Float32Array | Int32Array> = { step: Int32Array.of(s.step) };
  for (const [k, v] of s.params) {
    arrays[`p/${k}`] = v;
    arrays[`m/${k}`] = s.m.get(k)!;
    arrays[`v/${k}`] = s.v.get(k)!;
  }
  writeArrays(file, arrays);
}

function readCheckpoint(file: string, shape: Parameters<typeof paramSpecs>[0]): TrainState {
  let arrays: ReturnType<typeof readArrays>;
  try {
    arrays = readArrays(file);
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `${file}: unreadable checkpoint (${(e as Error).message}); train again with --overwrite`, { file });
  }
  const state: TrainState = { step: arrays.step?.[0] ?? -1, params: new Map(), m: new Map(), v: new Map() };
  for (const p of paramSpecs(shape)) {
    const size = p.dims.reduce((a, b) => a * b, 1);
    for (const [prefix, map] of [
      ['p', state.params],
      ['m', state.m],
      ['v', state.v],
    ] as const) {
      const a = arrays[`${prefix}/${p.name}`];
      if (!(a instanceof Float32Array) || a.length !== size) throw new TrajforgeError('E_DATASET_INVALID', `${file}: checkpoint lacks ${prefix}/${p.name} of ${size} values; train again with --overwrite`, { file });
      map.set(p.name, a);
    }
  }
  if (!(state.step >= 0)) throw new TrajforgeError('E_DATASET_INVALID', `${file}: checkpoint has no step; train again with --overwrite`, { file });
  return state;
}
