import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { writeEpisodes, sinkEntries } from '../dataset/sink.js';
import { DEFAULT_LAYOUT, type DatasetMeta, type DatasetSummary } from '../dataset/meta.js';
import { openDataset, type Dataset } from '../dataset/open.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { sinkFor } from '../export/registry.js';
import { writeOutput } from '../output/folder.js';
import { foreignConfigHash, withLastRowAsFinal } from './model-data.js';
import { outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** One event per episode written. */
export type ConvertProgress = StageProgress<'convert'>;

export interface ConvertOptions extends PipelineCallbacks<ConvertProgress> {
  /** A LeRobot dataset: trajforge's, or another tool's (v3, v2.1, v2.0). */
  src: string;
  /** The format, or several separated by commas: the export registry's names (lerobot, minari, dreamer, rlds, frames). */
  to: string;
  /** The new dataset's folder: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  /** Replace a dataset trajforge wrote at `out`. */
  overwrite?: boolean;
}

export interface ConvertSummary extends DatasetSummary {
  format: string;
  seconds: number;
  /** Episodes of another tool's dataset left out: a single row is no transition. */
  dropped: number;
}

/**
 * Writes a LeRobot dataset's episodes in other formats, without simulating again. Another tool's
 * dataset (no trajforge record) is read for what LeRobot defines; its rows stop at the last
 * action with no observation after it, so an episode of T rows becomes T − 1 steps closed by the
 * last row's observation and frames, and ends terminated where that row is done (else truncated).
 */
export async function convertDataset(opts: ConvertOptions): Promise<ConvertSummary> {
  const elapsed = stopwatch();
  const src = resolveIn(opts.cwd, opts.src);
  const out = resolveIn(opts.cwd, opts.out);
  const sink = await sinkFor(opts.to);
  const ds = await openDataset(src);
  let dropped = 0;
  let meta: DatasetMeta;
  let episodes: AsyncGenerator<EpisodeData>;
  if (ds.info.writtenBy === 'trajforge') {
    meta = datasetMeta(ds.dir);
    episodes = readLeRobotEpisodes(ds.dir);
  } else {
    meta = foreignMeta(ds);
    episodes = foreignTransitions(ds, (ep) => {
      dropped++;
      opts.onNotice?.(`${opts.src}: episode ${ep.episode} has ${ep.length} row(s), no transition; left out`, 'input');
    });
  }
  const total = ds.info.episodes;
  let done = 0;
  try {
    const s = await writeOutput(
      out,
      { kind: 'dataset', command: 'convert', mode: opts.overwrite ? 'overwrite' : 'new', entries: sinkEntries(sink, meta), accepts: ['overwrite'], inputs: [src], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) },
      async (folder) => {
        const written = await writeEpisodes(sink, folder, meta, episodes, () => {
          opts.onProgress?.({ stage: 'convert', done: ++done, total: total - dropped, elapsed: elapsed() });
        });
        if (written.episodes === 0) throw new TrajforgeError('E_DATASET_INVALID', `${opts.src}: no episode with two rows or more to convert`, { file: src });
        return written;
      },
    );
    return { ...s, format: opts.to, seconds: elapsed(), dropped };
  } finally {
    await ds.close();
  }
}

/** What another tool's LeRobot dataset declares, as trajforge's metadata without an environment config. */
function foreignMeta(ds: Dataset): DatasetMeta {
  const i = ds.info;
  return {
    envId: i.envId,
    configHash: foreignConfigHash(i),
    instruction: i.instruction,
    fps: i.fps,
    observationNames: [...i.observationNames],
    actionNames: [...i.actionNames],
    discrete: false,
    cameras: i.cameras.map((c) => ({ ...c, channels: [...c.channels] })),
    bodyNames: [],
    run: { seed: 0, episodes: i.episodes, shard: { index: 0, count: 1 }, policy: { kind: 'recorded', noise: 0, epsilon: 0 }, codec: 'h264', gop: 2, checkpoint: 32, layout: DEFAULT_LAYOUT },
  };
}

/** Another tool's episodes as transitions (see convertDataset); those of one row go to `drop`. */
async function* foreignTransitions(ds: Dataset, drop: (ep: EpisodeData) => void): AsyncGenerator<EpisodeData> {
  for await (const ep of ds.episodes({ channels: ['rgb'] })) {
    if (ep.length < 2) {
      drop(ep);
      continue;
    }
    const t = withLastRowAsFinal(ep);
    const T = t.length;
    // The episode ends at the last row's observation: done there (or at the step before) is a
    // termination, anything else a truncation of the recording.
    const terminated = t.terminated.slice();
    const truncated = t.truncated.slice();
    const success = t.success.slice();
    terminated[T - 1] = ep.terminated[T - 1]! | ep.terminated[T]!;
    truncated[T - 1] = terminated[T - 1] ? 0 : 1;
    success[T - 1] = ep.success[T - 1]! | ep.success[T]!;
    yield { ...t, terminated, truncated, success };
  }
}
