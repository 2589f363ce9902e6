import { validateLeRobot } from '../export/lerobot/reader.js';
import { resolveIn, stopwatch, type StageProgress } from './progress.js';

/** videos: one event per episode whose video timestamps were checked (the slow part; none with `quick`). */
export type ValidateProgress = StageProgress<'videos'>;

export interface ValidateOptions {
  /** The dataset folder. */
  dir: string;
  /** Skip reading the video timestamps (much faster; the tables and files are still checked). */
  quick?: boolean;
  /** The working directory `dir` resolves against (default: the process's). */
  cwd?: string;
  onProgress?: (p: ValidateProgress) => void;
}

export interface ValidateSummary {
  /** The absolute dataset folder. */
  dir: string;
  valid: boolean;
  /** Every violated invariant, each naming its file; empty when valid. */
  problems: string[];
}

/**
 * Checks every invariant of a LeRobot v3.0 dataset. A damaged dataset is a result here, not an
 * error: the caller decides (the CLI lists the problems and exits with E_DATASET_INVALID).
 */
export async function validateDataset(opts: ValidateOptions): Promise<ValidateSummary> {
  const dir = resolveIn(opts.cwd, opts.dir);
  const elapsed = stopwatch();
  const onEpisode = opts.onProgress ? (done: number, total: number) => opts.onProgress!({ stage: 'videos', done, total, elapsed: elapsed() }) : undefined;
  const problems = await validateLeRobot(dir, { deep: opts.quick !== true, ...(onEpisode ? { onEpisode } : {}) });
  return { dir, valid: problems.length === 0, problems };
}
