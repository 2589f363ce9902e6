import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetMeta } from '../export/lerobot/episodes.js';
import { ExtrasReader } from '../export/lerobot/extras-files.js';
import { readInfo, readJsonLines, validateLeRobot } from '../export/lerobot/reader.js';
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
  problems.push(...trajforgeSidecarProblems(dir));
  return { dir, valid: problems.length === 0, problems };
}

/**
 * The sidecars trajforge writes beside LeRobot's files (meta/trajforge.json, one line per episode
 * in meta/trajforge_episodes.jsonl, the arrays in meta/trajforge_episodes/), when the dataset has them: the commands that read them
 * (train, convert, replay, bc, info) refuse a damaged one, so validate names it too.
 */
function trajforgeSidecarProblems(dir: string): string[] {
  if (!existsSync(join(dir, 'meta', 'trajforge.json'))) return [];
  const problems: string[] = [];
  let chunksSize: number | null = null;
  try {
    chunksSize = datasetMeta(dir).run.layout.chunksSize;
  } catch (e) {
    problems.push(message(e));
  }
  const linesFile = join(dir, 'meta', 'trajforge_episodes.jsonl');
  try {
    const lines = readJsonLines(linesFile);
    let episodes: number | null = null;
    try {
      episodes = readInfo(dir).total_episodes;
    } catch {
      // info.json's own problems are LeRobot's checks' to name.
    }
    if (episodes !== null && lines.length !== episodes) problems.push(`${linesFile}: ${lines.length} line(s), but meta/info.json counts ${episodes} episodes`);
    lines.forEach((l, i) => {
      if (!Array.isArray((l as { bodies?: unknown }).bodies)) problems.push(`${linesFile}:${i + 1}: no bodies list for episode ${i}`);
    });
    if (chunksSize !== null) problems.push(...extrasProblems(dir, chunksSize, lines));
  } catch (e) {
    problems.push(message(e));
  }
  return problems;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Distinct problems with the sidecar arrays listed at most (a damaged file would be named once per episode in it). */
const MAX_EXTRAS_PROBLEMS = 20;

/**
 * Every episode's sidecar arrays (meta/trajforge_episodes/*.npz: body and camera tracks, the final
 * observation and frames), each decoded and checked against its CRC-32, as convert and train read them.
 */
function extrasProblems(dir: string, chunksSize: number, lines: unknown[]): string[] {
  const reader = new ExtrasReader(dir, chunksSize);
  const problems = new Set<string>();
  let more = 0;
  lines.forEach((line, episode) => {
    try {
      reader.episode(episode, line as { extras_file?: unknown }).verify();
    } catch (e) {
      const text = message(e);
      if (problems.size < MAX_EXTRAS_PROBLEMS) problems.add(text);
      else if (!problems.has(text)) more++;
    }
  });
  return more > 0 ? [...problems, `... and ${more} more problem(s) with episodes' sidecar arrays`] : [...problems];
}

