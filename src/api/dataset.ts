/**
 * `trajforge/dataset`: writing, reading, merging, converting and validating datasets. Each function
 * imports its implementation (exporters, parquet readers, ffmpeg) on the first call, so importing
 * this module is cheap.
 */
import type { Dataset } from '../dataset/open.js';

export { generateDataset, type GenerateDatasetOptions, type GenerateResult, type GenerateProgress } from './generate.js';
export {
  mergeDatasets,
  convertDataset,
  validateDataset,
  replayDataset,
  datasetInfo,
  type ReplayOptions,
  type ReplayProgress,
  type ReplaySummary,
  type InfoSummary,
  type FormatInfo,
  type DatasetFormat,
  type MergeOptions,
  type MergeProgress,
  type MergeSummary,
  type ConvertOptions,
  type ConvertProgress,
  type ConvertSummary,
  type ValidateOptions,
  type ValidateSummary,
  type StageProgress,
  type NoticeKind,
  type NoticeCallback,
  type PipelineCallbacks,
} from './pipeline.js';
export type { Dataset, DatasetEpisode, DatasetInfo, EpisodeReadOptions } from '../dataset/open.js';
export type { ChannelFrames, EpisodeData, BodyTrack, CameraTrack } from '../dataset/episode.js';
export type { DatasetSource, ExtraFeature } from '../dataset/meta.js';

/**
 * Opens a dataset folder trajforge wrote (LeRobot v3 with trajforge's metadata; a folder holding
 * several formats is read through its `lerobot/` part). Other folders are refused with
 * E_DATASET_INVALID naming what they hold.
 */
export async function openDataset(dir: string): Promise<Dataset> {
  const { openDataset: open } = await import('../dataset/open.js');
  return open(dir);
}
