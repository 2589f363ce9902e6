/**
 * What pipeline functions share: progress events, notices, and the checks of option values that
 * library callers and the CLI must get alike (same TrajforgeError code, same message).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';

/** `done` of `total` units of work in `stage`; a stage starts with done 0 and ends with done = total. */
export interface StageProgress<S extends string = string> {
  stage: S;
  done: number;
  total: number;
  /** Seconds since the pipeline function was called. */
  elapsed: number;
}

/**
 * What a notice is about. `output`: the output folder (a stale lock taken over, a damaged
 * checkpoint redone); the CLI prints these as `notice:` lines. `input`: the inputs fit but differ
 * from what is expected (a model trained on another version of the environment's config); the CLI
 * prints these as `note:` lines.
 */
export type NoticeKind = 'output' | 'input';

/** Lines for the user that are not errors; the run goes on. */
export type NoticeCallback = (line: string, kind: NoticeKind) => void;

/** The options every pipeline function takes besides its own. */
export interface PipelineCallbacks<P> {
  /** Progress events, in order; a callback that throws stops the run (its output is removed). */
  onProgress?: (p: P) => void;
  onNotice?: NoticeCallback;
  /** The working directory relative paths resolve against (default: the process's). */
  cwd?: string;
}

/** Seconds since it was made. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => (performance.now() - t0) / 1000;
}

/** An absolute path: `path` resolved against `cwd` (default: the process's working directory). */
export function resolveIn(cwd: string | undefined, path: string): string {
  return resolve(cwd ?? process.cwd(), path);
}

/** Output-folder notices forwarded as `output` notices. */
export function outputNotices(onNotice: NoticeCallback | undefined): ((line: string) => void) | undefined {
  return onNotice ? (line) => onNotice(line, 'output') : undefined;
}

/** Worker threads for a model's encoder and decoder: `threads`, checked, or one per core (at most 8). */
export function checkThreads(threads: number | undefined): number {
  // Each thread is a worker with its own heap and model sessions: far past the cores they only
  // cost memory (a billion of them exhausted it before the first frame).
  return checkInt(threads ?? Math.min(8, availableParallelism()), 'threads', 1, Math.max(64, 4 * availableParallelism()));
}

/** An integer option of at least `min` (and at most `max`); the message names the CLI flag, as the CLI's own check does. */
export function checkInt(value: number, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min) throw new TrajforgeError('E_USAGE', `--${flag} must be an integer >= ${min}, got '${value}'`);
  if (value > max) throw new TrajforgeError('E_USAGE', `--${flag} must be at most ${max}, got '${value}'`);
  return value;
}

/** A finite number option. */
export function checkNumber(value: number, flag: string): number {
  if (!Number.isFinite(value)) throw new TrajforgeError('E_USAGE', `--${flag} must be a number, got '${value}'`);
  return value;
}
