/**
 * The other commands as functions (`trajforge merge`, `convert`, `validate`, `train`, `encode`,
 * `predict`, `dream`, `eval`, `bc`, `label`): typed options in, a typed summary out, progress and notices through
 * callbacks. Each imports its pipeline module on the first call (onnxruntime, parquet, ffmpeg).
 */
import type { BehaviourCloningOptions, BehaviourCloningSummary } from '../pipeline/bc.js';
import type { ConvertOptions, ConvertSummary } from '../pipeline/convert.js';
import type { DreamOptions, DreamSummary } from '../pipeline/dream.js';
import type { EncodeOptions, EncodeSummary } from '../pipeline/encode.js';
import type { EvalOptions, EvalSummary } from '../pipeline/eval.js';
import type { LabelOptions, LabelSummary } from '../pipeline/label.js';
import type { LabelEvalOptions, LabelEvalSummary } from '../pipeline/label-eval.js';
import type { MergeOptions, MergeSummary } from '../pipeline/merge.js';
import type { PredictOptions, PredictSummary } from '../pipeline/predict.js';
import type { TrainOptions, TrainSummary } from '../pipeline/train.js';
import type { ValidateOptions, ValidateSummary } from '../pipeline/validate.js';
import type { ReplayOptions, ReplaySummary } from '../pipeline/replay.js';
import type { InfoSummary } from '../pipeline/info.js';
import { resolveEnvRef, type EnvRef } from './env-ref.js';
import { defaultProviders } from './providers.js';

export type { StageProgress, NoticeKind, NoticeCallback, PipelineCallbacks } from '../pipeline/progress.js';
export type { MergeOptions, MergeProgress, MergeSummary } from '../pipeline/merge.js';
export type { ConvertOptions, ConvertProgress, ConvertSummary } from '../pipeline/convert.js';
export type { ValidateOptions, ValidateProgress, ValidateSummary } from '../pipeline/validate.js';
export type { ReplayOptions, ReplayProgress, ReplaySummary } from '../pipeline/replay.js';
export type { InfoSummary, FormatInfo, DatasetFormat } from '../pipeline/info.js';
export type { TrainOptions, TrainProgress, TrainSummary, WorldModelKind } from '../pipeline/train.js';
export type { EncodeOptions, EncodeProgress, EncodeSummary } from '../pipeline/encode.js';
export type { PredictOptions, PredictProgress, PredictSummary } from '../pipeline/predict.js';
export type { DreamOptions, DreamProgress, DreamSummary, DreamComparison } from '../pipeline/dream.js';
export type { EvalOptions, EvalProgress, EvalSummary, EvalTarget } from '../pipeline/eval.js';
export type { BehaviourCloningOptions, BehaviourCloningSummary, BcProgress, PolicyCard } from '../pipeline/bc.js';
export type { LabelOptions, LabelProgress, LabelSummary, SkippedSource } from '../pipeline/label.js';
export type { LabelEvalOptions, LabelEvalProgress, LabelEvalSummary, VariantResult } from '../pipeline/label-eval.js';

/** `trajforge merge`: datasets of one environment (e.g. the shards of a cluster run) into one. */
export async function mergeDatasets(options: MergeOptions): Promise<MergeSummary> {
  return (await import('../pipeline/merge.js')).mergeDatasets(options);
}

/** `trajforge convert`: a trajforge LeRobot dataset into other formats. */
export async function convertDataset(options: ConvertOptions): Promise<ConvertSummary> {
  return (await import('../pipeline/convert.js')).convertDataset(options);
}

/** `trajforge validate`: every invariant of a LeRobot v3 dataset; the problems found, named. */
export async function validateDataset(options: ValidateOptions): Promise<ValidateSummary> {
  return (await import('../pipeline/validate.js')).validateDataset(options);
}

/** `trajforge train`: fits a world model on a dataset and writes its folder (model.json + four ONNX graphs). */
export async function trainWorldModel(options: TrainOptions): Promise<TrainSummary> {
  return (await import('../pipeline/train.js')).trainWorldModel(options);
}

/** `trajforge encode`: a copy of a dataset with each frame's latent as an extra feature. Providers default as for loadWorldModel. */
export async function encodeDataset(options: EncodeOptions): Promise<EncodeSummary> {
  const providers = options.providers ?? (await defaultProviders());
  return (await import('../pipeline/encode.js')).encodeDataset({ ...options, providers });
}

/** `trajforge predict`: open-loop prediction of one episode, written as a truth | prediction | error video. */
export async function predictEpisode(options: PredictOptions): Promise<PredictSummary> {
  return (await import('../pipeline/predict.js')).predictEpisode(options);
}

/** dreamDataset's options; `env` may also be an id or a config file, as for createEnv. */
export interface DreamDatasetOptions extends Omit<DreamOptions, 'env'> {
  env: EnvRef;
}

/** `trajforge dream`: episodes imagined by a world model from real resets, written as a dataset. */
export async function dreamDataset(options: DreamDatasetOptions): Promise<DreamSummary> {
  const env = await resolveEnvRef(options.env, options.cwd);
  return (await import('../pipeline/dream.js')).dreamDataset({ ...options, env });
}

/** `trajforge eval`: a model's report on held-out episodes (open-loop error against baselines, probes). Providers default as for loadWorldModel. */
export async function evaluateWorldModel(options: EvalOptions): Promise<EvalSummary> {
  const providers = options.providers ?? (await defaultProviders());
  return (await import('../pipeline/eval.js')).evaluateWorldModel({ ...options, providers });
}

/** `trajforge bc`: a behaviour-cloning MLP from a dataset's observations (or latents) to its actions, written as an ONNX policy and its card. */
export async function trainBehaviourCloning(options: BehaviourCloningOptions): Promise<BehaviourCloningSummary> {
  return (await import('../pipeline/bc.js')).trainBehaviourCloning(options);
}

/** `trajforge label`: videos (files, a folder, a glob or a LeRobot dataset) -> a dataset whose actions a world model's inverse dynamics inferred. Providers default as for loadWorldModel. */
export async function labelVideos(options: LabelOptions): Promise<LabelSummary> {
  const providers = options.providers ?? (await defaultProviders());
  return (await import('../pipeline/label.js')).labelVideos({ ...options, providers });
}

/** `trajforge label --eval`: labels scored against a simulator dataset's withheld actions (R², calibration, domain shift, the VPT test). */
export async function evaluateLabelling(options: LabelEvalOptions): Promise<LabelEvalSummary> {
  const providers = options.providers ?? (await defaultProviders());
  return (await import('../pipeline/label-eval.js')).evaluateLabelling({ ...options, providers });
}

/** `trajforge replay`: a simulator dataset re-simulated from its seeds and actions with new cameras, channels or light (every state checked equal to the stored one). */
export async function replayDataset(options: ReplayOptions): Promise<ReplaySummary> {
  return (await import('../pipeline/replay.js')).replayDataset(options);
}

/** `trajforge info`: what a dataset folder holds, in any format trajforge writes, from its metadata. */
export async function datasetInfo(options: { dir: string; cwd?: string }): Promise<InfoSummary> {
  return (await import('../pipeline/info.js')).datasetInfo(options);
}
