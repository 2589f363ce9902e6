/**
 * `trajforge bc`: behaviour cloning. An MLP from a dataset's observation.state (or an extra float
 * feature such as encode's observation.latent) to its actions, trained in onnxruntime, written as
 * an ONNX policy (the convention `generate --policy onnx:` and `dream` read) and a JSON card with
 * what it was trained on and how well it fits train and held-out episodes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, isAbsolute } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { Dataset } from '../dataset/open.js';
import { writeFileAtomic } from '../output/atomic.js';
import { checkFileOutput, escapeRegExp, preflightOutput, writeOutput, type OutputOptions } from '../output/folder.js';
import { bcNormalisation, DEFAULT_BC_OPTIONS, runPolicyGraph, trainBc, type BcData, type BcOptions } from '../model/bc/train.js';
import { actionMetrics, choiceAccuracy, type ActionMetrics } from '../model/label-metrics.js';
import { oneHotActions } from '../model/card.js';
import { gatherRows } from '../model/transitions.js';
import { policyCardFile } from '../policy/load.js';
import { openModelDataset, splitEpisodes, type ModelDatasetMeta } from './model-data.js';
import { checkInt, checkNumber, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

export const DEFAULT_BC_INPUT = 'observation.state';
/** What a policy folder holds. */
export const POLICY_FILE = 'policy.onnx';
export const POLICY_CARD = 'policy.json';
export const POLICY_CARD_FORMAT = 'trajforge-policy';

/** read: 0 then 1 of 1; train: one event per step with its loss; evaluate: 0 then 1 of 1. */
export type BcProgress = StageProgress<'read'> | (StageProgress<'train'> & { loss: number }) | StageProgress<'evaluate'>;

export interface BehaviourCloningOptions extends PipelineCallbacks<BcProgress> {
  /** A trajforge LeRobot dataset with continuous actions; named in errors as given. */
  dataset: string;
  /**
   * A folder (absent or empty, or with `overwrite` a policy folder trajforge wrote) that gets
   * policy.onnx and policy.json; or a file ending in .onnx, with its card beside it (NAME.json).
   */
  out: string;
  overwrite?: boolean;
  /** The input feature: observation.state (default) or an extra float feature such as observation.latent. */
  input?: string;
  /** Hidden width (>= 1). Default 256. */
  hidden?: number;
  /** Hidden layers (>= 1). Default 2. */
  layers?: number;
  /** Gradient steps (>= 1). Default 2000. */
  steps?: number;
  /** Rows per step (>= 1). Default 256. */
  batch?: number;
  /** Adam's peak learning rate (> 0). Default 1e-3. */
  learningRate?: number;
  seed?: number;
  /** Use the first N episodes of the dataset only (>= 2: one is held out). */
  episodes?: number;
  /** Hidden activation. Default relu. */
  activation?: 'relu' | 'tanh';
}

/** policy.json: what the policy reads and writes, what it was trained on, and how well it fits. */
export interface PolicyCard {
  format: typeof POLICY_CARD_FORMAT;
  version: 1;
  kind: 'behaviour-cloning';
  /** The ONNX file (beside the card) and its sha256, which datasets generated with it record. */
  file: string;
  sha256: string;
  env_id: string;
  /** The environment config's hash (the dataset's). */
  config_hash: string;
  /** model_id: the world model whose latent the input is (recorded by encode and label), which dream then must run. */
  input: { key: string; name: 'observation' | 'latent'; size: number; names: string[]; model_id?: string };
  /** For a discrete set, one value per choice (`names` are the choices, `discrete` true): the policy picks the largest. */
  output: { name: 'action'; size: number; names: string[]; low: number[]; high: number[]; discrete?: true };
  dataset: { path: string; episodes: number; train_episodes: number; heldout_episodes: number; train_rows: number; heldout_rows: number; source?: ModelDatasetMeta['source'] };
  network: { hidden: number; layers: number; activation: 'relu' | 'tanh' };
  training: { steps: number; batch: number; learning_rate: number; seed: number; final_loss: number };
  /** Per action dimension, in the environment's units, from the exported graph; for a discrete set also how often the largest value is the choice taken. */
  metrics: { train: ActionMetrics & { choiceAccuracy?: number }; heldout: ActionMetrics & { choiceAccuracy?: number } };
}

export interface BehaviourCloningSummary {
  /** The absolute paths written. */
  policy: string;
  cardFile: string;
  card: PolicyCard;
  /** Seconds from the call to the written files, and of the training steps alone. */
  seconds: number;
  trainSeconds: number;
}

/**
 * Trains a behaviour-cloning policy on a dataset and writes it as an ONNX policy plus its card.
 * Options and the dataset are checked before anything is written; the files are written
 * atomically once training and scoring are done, so a failed run leaves no policy behind.
 */
export async function trainBehaviourCloning(opts: BehaviourCloningOptions): Promise<BehaviourCloningSummary> {
  const elapsed = stopwatch();
  const D0 = DEFAULT_BC_OPTIONS;
  const o: BcOptions = {
    hidden: checkInt(opts.hidden ?? D0.hidden, 'hidden', 1),
    layers: checkInt(opts.layers ?? D0.layers, 'layers', 1),
    steps: checkInt(opts.steps ?? D0.steps, 'steps', 1),
    batch: checkInt(opts.batch ?? D0.batch, 'batch', 1),
    learningRate: checkNumber(opts.learningRate ?? D0.learningRate, 'lr'),
    seed: checkInt(opts.seed ?? D0.seed, 'seed', 0),
    activation: opts.activation ?? D0.activation,
  };
  if (!(o.learningRate > 0)) throw new TrajforgeError('E_USAGE', `--lr must be > 0, got ${o.learningRate}`);
  if (o.activation !== 'relu' && o.activation !== 'tanh') throw new TrajforgeError('E_USAGE', `--activation must be relu or tanh, got '${String(o.activation)}'`);
  const limit = opts.episodes === undefined ? undefined : checkInt(opts.episodes, 'episodes', 2);
  const key = opts.input ?? DEFAULT_BC_INPUT;
  const src = resolveIn(opts.cwd, opts.dataset);
  const target = outputTarget(opts, src);

  opts.onProgress?.({ stage: 'read', done: 0, total: 1, elapsed: elapsed() });
  // trajforge's datasets and other tools' LeRobot v3 datasets alike (their actions unbounded).
  const opened = await openModelDataset(src);
  const { meta, actions: space } = opened;
  let input: { size: number; names: string[] };
  let read: Awaited<ReturnType<typeof readRows>>;
  try {
    if (space.names.length === 0) throw new TrajforgeError('E_USAGE', `${opts.dataset} records no actions (no action feature, or an empty one), so there is nothing to clone`, { file: src });
    // A discrete set is fitted as one value per choice, the choice taken as its one-hot row (as the
    // world model takes it); the exported policy's largest value is its choice (policy/onnx.ts).
    input = inputFeature(meta, key, opts.dataset);
    read = await readRows(opened.dataset, key, input.size, limit, space.discrete ? space.names.length : undefined);
  } finally {
    await opened.dataset.close();
  }
  if (read.lengths.length < 2) throw new TrajforgeError('E_DATASET_INVALID', `${opts.dataset}: ${read.lengths.length} episode(s); bc needs at least 2 (one is held out)`, { file: src });
  opts.onProgress?.({ stage: 'read', done: 1, total: 1, elapsed: elapsed() });

  const split = splitEpisodes(read.lengths.length);
  const rowsOf = (episodes: number[]) => Int32Array.from(episodes.flatMap((e) => Array.from({ length: read.lengths[e]! }, (_, t) => read.starts[e]! + t)));
  const trainRows = rowsOf(split.train);
  const heldoutRows = rowsOf(split.heldout);
  const norm = bcNormalisation(read.data, trainRows, { low: space.low, high: space.high });
  const training = stopwatch();
  const inputName = key === DEFAULT_BC_INPUT ? 'observation' : 'latent';
  const trained = await trainBc(read.data, trainRows, norm, o, inputName, (r) => opts.onProgress?.({ stage: 'train', done: r.step, total: r.steps, elapsed: elapsed(), loss: r.loss }));
  const trainSeconds = training();

  // Scored by the exported graph itself, in onnxruntime: the card's figures are the file's.
  opts.onProgress?.({ stage: 'evaluate', done: 0, total: 1, elapsed: elapsed() });
  const predicted = await runPolicyGraph(trained.bytes, inputName, read.data.x, read.data.inputs, read.data.actions);
  const scored = (rows: Int32Array) => {
    const m = actionMetrics(predicted, read.data.y, rows, read.data.actions);
    if (!space.discrete) return m;
    const A = read.data.actions;
    return { ...m, choiceAccuracy: choiceAccuracy(gatherRows(predicted, A, rows), gatherRows(read.data.y, A, rows), A).accuracy };
  };
  const metrics = { train: scored(trainRows), heldout: scored(heldoutRows) };
  opts.onProgress?.({ stage: 'evaluate', done: 1, total: 1, elapsed: elapsed() });

  const latentModel = inputName === 'latent' ? meta.extraFeatures?.find((x) => x.key === key)?.modelId : undefined;
  const card: PolicyCard = {
    format: POLICY_CARD_FORMAT,
    version: 1,
    kind: 'behaviour-cloning',
    file: basename(target.policy),
    sha256: sha256Hex(trained.bytes),
    env_id: meta.envId,
    config_hash: meta.configHash,
    input: { key, name: inputName, size: read.data.inputs, names: input.names, ...(latentModel ? { model_id: latentModel } : {}) },
    output: { name: 'action', size: read.data.actions, names: space.names, low: space.low.map((v, k) => (Number.isFinite(v) ? v : norm.low[k]!)), high: space.high.map((v, k) => (Number.isFinite(v) ? v : norm.high[k]!)), ...(space.discrete ? { discrete: true as const } : {}) },
    dataset: {
      path: opts.dataset,
      episodes: read.lengths.length,
      train_episodes: split.train.length,
      heldout_episodes: split.heldout.length,
      train_rows: trainRows.length,
      heldout_rows: heldoutRows.length,
      ...(meta.source ? { source: meta.source } : {}),
    },
    network: { hidden: o.hidden, layers: o.layers, activation: o.activation },
    training: { steps: o.steps, batch: o.batch, learning_rate: o.learningRate, seed: o.seed, final_loss: trained.losses.at(-1) ?? NaN },
    metrics,
  };
  const text = `${JSON.stringify(card, null, 2)}\n`;
  const write = () => {
    writeFileAtomic(target.policy, trained.bytes);
    // The card last: a card always has its policy beside it.
    writeFileAtomic(target.card, text);
  };
  if (target.folder) await writeOutput(target.folder.dir, target.folder.spec, async () => write());
  else write();
  return { policy: target.policy, cardFile: target.card, card, seconds: elapsed(), trainSeconds };
}

interface OutputTarget {
  policy: string;
  card: string;
  /** Folder outputs go through the output-folder rules (marker, lock, --overwrite of our own only). */
  folder?: { dir: string; spec: OutputOptions };
}

/**
 * Where the policy goes, refused before any work: a folder by the output-folder rules; a file
 * `NAME.onnx` (card NAME.json) only where neither exists, or with `overwrite` where NAME.json is
 * a policy card this tool wrote, so a user's own ONNX file is never replaced.
 */
function outputTarget(opts: BehaviourCloningOptions, src: string): OutputTarget {
  const out = resolveIn(opts.cwd, opts.out);
  const inside = (p: string) => {
    const rel = relative(src, p);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  if (inside(out)) throw new TrajforgeError('E_USAGE', `--out ${out} lies inside the dataset ${src}; write the policy outside what bc reads`, { file: out });
  if (!out.endsWith('.onnx')) {
    const spec: OutputOptions = { kind: 'model', command: 'bc', mode: opts.overwrite ? 'overwrite' : 'new', entries: [POLICY_FILE, POLICY_CARD].map(escapeRegExp), accepts: ['overwrite'], inputs: [src], cwd: opts.cwd };
    preflightOutput(out, spec);
    return { policy: join(out, POLICY_FILE), card: join(out, POLICY_CARD), folder: { dir: out, spec } };
  }
  const card = policyCardFile(out);
  for (const f of [out, card]) checkFileOutput(f, { overwrite: opts.overwrite === true, cwd: opts.cwd });
  if ((existsSync(out) || existsSync(card)) && !isPolicyCard(card)) {
    const there = existsSync(out) ? out : card;
    throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${there} exists and ${card} is not a policy card trajforge wrote, so it is not known to be a bc policy's; nothing was touched`, { file: there, hint: 'choose another --out, or move the file' });
  }
  return { policy: out, card };
}

function isPolicyCard(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    return (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown }).format === POLICY_CARD_FORMAT;
  } catch {
    return false;
  }
}

/** The input feature's width and names, or E_USAGE naming the features the dataset has. */
function inputFeature(meta: ModelDatasetMeta, key: string, shown: string): { size: number; names: string[] } {
  if (key === DEFAULT_BC_INPUT) return { size: meta.observationNames.length, names: meta.observationNames };
  const extra = (meta.extraFeatures ?? []).find((x) => x.key === key);
  if (!extra) {
    const known = [DEFAULT_BC_INPUT, ...(meta.extraFeatures ?? []).map((x) => x.key)];
    throw new TrajforgeError('E_USAGE', `${shown} has no float feature '${key}' (it has: ${known.join(', ')}); \`trajforge encode\` adds observation.latent`);
  }
  return { size: extra.dim, names: extra.names ?? Array.from({ length: extra.dim }, (_, i) => `${key}.${i}`) };
}

/** Every step's (input, action) row of the first `limit` episodes, episode by episode; no frames are decoded. */
async function readRows(dataset: Dataset, key: string, inputs: number, limit: number | undefined, choices?: number): Promise<{ data: BcData; starts: number[]; lengths: number[] }> {
  const dir = dataset.dir;
  const xs: Float32Array[] = [];
  const ys: Float32Array[] = [];
  const lengths: number[] = [];
  let actions = 0;
  for await (const ep of dataset.episodes({ channels: [] })) {
    if (limit !== undefined && lengths.length >= limit) break;
    const x = key === DEFAULT_BC_INPUT ? ep.obs : ep.extras?.find((e) => e.key === key)?.data;
    if (!x || x.length !== ep.length * inputs) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: episode ${ep.episode} has ${x ? x.length / ep.length : 'no'} '${key}' values a step, meta/trajforge.json declares ${inputs}`, { file: dir });
    actions = choices ?? ep.actionDim;
    xs.push(x);
    ys.push(choices ? oneHotActions(ep.actions, choices, `${dir}: episode ${ep.episode}`) : ep.actions);
    lengths.push(ep.length);
  }
  const concat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const starts: number[] = [];
  let row = 0;
  for (const T of lengths) {
    starts.push(row);
    row += T;
  }
  return { data: { x: concat(xs), y: concat(ys), inputs, actions }, starts, lengths };
}
