/**
 * The application layer: one function per command, typed options in, a typed summary out,
 * progress and notices through callbacks. The CLI and the library both call these; nothing here
 * prints or exits.
 */
export type { StageProgress, NoticeKind, NoticeCallback, PipelineCallbacks } from './progress.js';
export { generateDataset, shardEpisodes, type GenerateOptions, type GenerateResult, type Progress as GenerateProgress } from './generate.js';
export { mergeDatasets, type MergeOptions, type MergeProgress, type MergeSummary } from './merge.js';
export { convertDataset, type ConvertOptions, type ConvertProgress, type ConvertSummary } from './convert.js';
export { validateDataset, type ValidateOptions, type ValidateSummary } from './validate.js';
export { trainWorldModel, type TrainOptions, type TrainProgress, type TrainSummary, type TrainData, type WorldModelKind } from './train.js';
export { encodeDataset, DEFAULT_LATENT_KEY, latentNames, type EncodeOptions, type EncodeProgress, type EncodeSummary } from './encode.js';
export { predictEpisode, predictFrameSize, type PredictOptions, type PredictProgress, type PredictSummary } from './predict.js';
export { dreamDataset, type DreamOptions, type DreamProgress, type DreamSummary, type DreamComparison } from './dream.js';
export { evaluateWorldModel, type EvalOptions, type EvalProgress, type EvalSummary, type EvalTarget } from './eval.js';
export { loadModelData, splitEpisodes, type ModelData } from './model-data.js';
export { buildModelCard, type ModelShape } from './model-card.js';
