import { writeEpisodes, sinkEntries } from '../dataset/sink.js';
import type { DatasetSummary } from '../dataset/meta.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { readInfo } from '../export/lerobot/reader.js';
import { sinkFor } from '../export/registry.js';
import { writeOutput } from '../output/folder.js';
import { outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** One event per episode written. */
export type ConvertProgress = StageProgress<'convert'>;

export interface ConvertOptions extends PipelineCallbacks<ConvertProgress> {
  /** A trajforge LeRobot dataset. */
  src: string;
  /** The format, or several separated by commas: the export registry's names (minari, dreamer, rlds, frames, ...). */
  to: string;
  /** The new dataset's folder: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  /** Replace a dataset trajforge wrote at `out`. */
  overwrite?: boolean;
}

export interface ConvertSummary extends DatasetSummary {
  format: string;
  seconds: number;
}

/** Writes a LeRobot dataset's episodes in other formats, without simulating again. */
export async function convertDataset(opts: ConvertOptions): Promise<ConvertSummary> {
  const elapsed = stopwatch();
  const src = resolveIn(opts.cwd, opts.src);
  const out = resolveIn(opts.cwd, opts.out);
  const sink = await sinkFor(opts.to);
  const meta = datasetMeta(src);
  let total: number | undefined;
  let done = 0;
  const s = await writeOutput(
    out,
    { kind: 'dataset', command: 'convert', mode: opts.overwrite ? 'overwrite' : 'new', entries: sinkEntries(sink, meta), accepts: ['overwrite'], inputs: [src], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) },
    (folder) =>
      writeEpisodes(sink, folder, meta, readLeRobotEpisodes(src), () => {
        // Read once the first episode arrived: the reader has checked info.json by then, and names it if damaged.
        total ??= readInfo(src).total_episodes;
        opts.onProgress?.({ stage: 'convert', done: ++done, total, elapsed: elapsed() });
      }),
  );
  return { ...s, format: opts.to, seconds: elapsed() };
}
