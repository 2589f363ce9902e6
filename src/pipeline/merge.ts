import { TrajforgeError } from '../core/errors.js';
import type { DatasetSummary } from '../dataset/meta.js';
import { mergeLeRobot } from '../export/lerobot/merge.js';
import { LEROBOT_ENTRIES, writeOutput, type OutputOptions } from '../output/folder.js';
import { outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** Stage 'merge': episodes written into the merged dataset (total: episodes of all inputs). */
export type MergeProgress = StageProgress<'merge'>;

export interface MergeOptions extends PipelineCallbacks<MergeProgress> {
  /**
   * trajforge LeRobot datasets of one environment config: the shards of a run, and runs with other
   * seeds, policies, episode counts or codecs (merged run after run, in this order).
   */
  inputs: string[];
  /** The merged dataset's folder: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  /** Replace a dataset trajforge wrote at `out`. */
  overwrite?: boolean;
}

export interface MergeSummary extends DatasetSummary {
  /** How many datasets were merged. */
  inputs: number;
  seconds: number;
}

/**
 * Merges LeRobot datasets into one: every input is read and checked before anything is written
 * (a damaged input is E_DATASET_INVALID naming its file), episodes are renumbered in input order,
 * videos and sidecars are copied as they are.
 */
export async function mergeDatasets(opts: MergeOptions): Promise<MergeSummary> {
  if (opts.inputs.length === 0) throw new TrajforgeError('E_USAGE', 'merge needs at least one input dataset');
  const elapsed = stopwatch();
  const out = resolveIn(opts.cwd, opts.out);
  const spec: OutputOptions = { kind: 'dataset', command: 'merge', mode: opts.overwrite ? 'overwrite' : 'new', entries: LEROBOT_ENTRIES, accepts: ['overwrite'], inputs: opts.inputs, cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  const summary = await writeOutput(out, spec, () =>
    mergeLeRobot(
      opts.inputs.map((p) => resolveIn(opts.cwd, p)),
      out,
      (done, total) => opts.onProgress?.({ stage: 'merge', done, total, elapsed: elapsed() }),
      opts.inputs,
    ),
  );
  return { ...summary, inputs: opts.inputs.length, seconds: elapsed() };
}
