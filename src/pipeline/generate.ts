import { sinkEntries } from '../dataset/sink.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { LOCK_FILE, MARKER_FILE } from '../output/folder.js';
import { readJson } from '../dataset/json.js';
import { sinkFor } from '../export/registry.js';
import { DEFAULT_LAYOUT, RUN_SETTINGS, datasetMeta, type DatasetMeta, type DatasetSummary, type Layout } from '../dataset/meta.js';
import type { PolicyKind, PolicySpec } from '../policy/policy.js';
import { CHANNELS, type Channel } from '../render/renderer.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import { openResumableDataset } from './dataset-output.js';
import { resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';
import { produceEpisodes, type EpisodeJobs } from '../episode/pool.js';
import { episodeSeed } from '../episode/rollout.js';
import { createRunner, type RunnerInit } from '../episode/runner.js';
import { isPlainObject } from '../core/json.js';

export interface GenerateOptions extends PipelineCallbacks<Progress> {
  env: ResolvedEnv;
  out: string;
  episodes: number;
  seed: number;
  workers: number;
  format: string;
  /**
   * A built-in kind, or an ONNX policy file (`file` resolved against `cwd`; its input the
   * observation [N, D] or [D], its output the action). `noise` and `epsilon` perturb the expert's
   * and the ONNX policy's actions.
   */
  policy: GeneratePolicy;
  shard: { index: number; count: number };
  resume: boolean;
  overwrite: boolean;
  codec: VideoCodec;
  gop: number;
  checkpoint: number;
  /** File rollover thresholds (default: LeRobot's). */
  layout?: Layout;
  /** The channels every camera renders (default: what each camera declares); the renderer draws any channel for any camera. */
  channels?: Channel[];
}

export type GeneratePolicy = { kind: PolicyKind; noise: number; epsilon: number } | { kind: 'onnx'; file: string; noise: number; epsilon: number };

/** One event per episode written (stage 'generate', done/total in episodes of this shard). */
export interface Progress extends StageProgress<'generate'> {
  steps: number;
  successes: number;
  /** Episodes already on disk when a resumed run started. */
  resumedFrom: number;
}

export interface GenerateResult extends DatasetSummary {
  steps: number;
  seconds: number;
  resumedFrom: number;
}

/** Episode numbers of a shard: {k : k mod count = index}, in order. */
export function shardEpisodes(episodes: number, shard: { index: number; count: number }): number[] {
  const jobs = shardJobs(episodes, shard, 0, 0);
  return Array.from({ length: jobs.length }, (_, i) => jobs.at(i)!.episode);
}

/**
 * The jobs of a shard from its position `from` on: episode k = index + position × count, with
 * its seed. Made as asked, so a run of a hundred million episodes holds none of them up front.
 */
function shardJobs(episodes: number, shard: { index: number; count: number }, seed: number, from: number): EpisodeJobs {
  const total = Math.max(0, Math.ceil((episodes - shard.index) / shard.count));
  return {
    length: Math.max(0, total - from),
    at: (i) => {
      const k = shard.index + (from + i) * shard.count;
      return { episode: k, seed: episodeSeed(seed, k), position: from + i };
    },
  };
}

/**
 * Generates a dataset: episodes simulated and rendered on worker threads, written in episode order
 * by the chosen exporter, resumable after a crash. The output depends only on the arguments, never
 * on the number of workers.
 */
export async function generateDataset(opts: GenerateOptions): Promise<GenerateResult> {
  const sink = await sinkFor(opts.format);
  const cfg = opts.env.config;
  const hasExpert = cfg.expert !== undefined;
  if (opts.policy.kind === 'expert' && !hasExpert) throw new TrajforgeError('E_USAGE', `${cfg.id} declares no expert; use --policy random or noise`);
  if (!(opts.shard.count >= 1 && opts.shard.index >= 0 && opts.shard.index < opts.shard.count)) throw new TrajforgeError('E_USAGE', `bad shard ${opts.shard.index}/${opts.shard.count}`);
  for (const c of opts.channels ?? []) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${c}'`);

  const cameras = cfg.cameras.map((c) => ({
    name: c.name,
    width: c.resolution[0],
    height: c.resolution[1],
    // In the renderer's canonical order, so the same set in any order writes the same dataset.
    channels: (opts.channels ? CHANNELS.filter((ch) => opts.channels!.includes(ch)) : c.channels) as Channel[],
  })).filter((c) => c.channels.length > 0);
  const { policy, policyPath } = await runPolicy(opts.policy, opts.cwd);
  const meta = datasetMeta(opts.env, {
    cameras,
    run: { seed: opts.seed, episodes: opts.episodes, shard: opts.shard, policy, codec: opts.codec, gop: opts.gop, checkpoint: opts.checkpoint, layout: opts.layout ?? DEFAULT_LAYOUT },
  });
  const init: RunnerInit = { config: cfg, source: opts.env.source, policy, ...(policyPath ? { policyPath } : {}), cameras: cameras.map((c) => ({ name: c.name, channels: c.channels })), supersample: 1 };
  // Everything a worker would reject (policy options, an ONNX policy that does not fit the
  // environment, the environment) is rejected here, before the output folder is touched, so a
  // corrected command starts clean.
  await (await createRunner(init)).close();

  const out = resolveIn(opts.cwd, opts.out);
  const settings = runSettings(opts, meta);
  const recorded = opts.resume ? recordedRun(out, settings, () => sink.finishedRun?.(out, meta) ?? null) : null;
  if (recorded?.complete) return { dir: out, ...recorded.complete, successes: 0, bytes: 0, steps: 0, seconds: 0, resumedFrom: recorded.complete.episodes };
  const output = openResumableDataset(out, 'generate', sinkEntries(sink, meta), opts);
  const elapsed = stopwatch();
  let steps = 0;
  let successes = 0;
  let committed = 0;
  try {
    if (opts.resume && !recorded && !isEmptyOutput(out) && !hasInterruptedRun(out)) {
      throw new TrajforgeError('E_DATASET_EXISTS', `${out} holds no interrupted run to resume (it is complete or not a trajforge dataset); use --overwrite to regenerate`, { file: out });
    }
    if (!recorded) writeRunSettings(out, settings);
    const opened = await sink.open(out, meta, { resume: opts.resume });
    for (const line of opened.notices ?? []) opts.onNotice?.(line, 'output');
    committed = opened.committed;
  } catch (e) {
    const cause = output.failure(e);
    output.abandon();
    throw cause;
  }
  const jobs = shardJobs(opts.episodes, opts.shard, opts.seed, committed);
  const total = committed + jobs.length;
  let done = committed;
  try {
    // The workers encode each episode in the chosen formats too; this thread only commits.
    const encoding = { module: REGISTRY_MODULE, format: opts.format, meta };
    for await (const { ep, encoded } of produceEpisodes(init, jobs, opts.workers, encoding)) {
      await sink.write(ep, encoded);
      output.assertHeld();
      // Writers that write synchronously would otherwise keep the event loop busy from one
      // worker message to the next: a turn per episode lets Ctrl-C and the lock's heartbeat run.
      await new Promise((resolve) => setImmediate(resolve));
      steps += ep.length;
      successes += ep.success[ep.length - 1] ? 1 : 0;
      done++;
      opts.onProgress?.({ stage: 'generate', done, total, steps, successes, elapsed: elapsed(), resumedFrom: committed });
    }
    output.assertHeld();
    const summary = await sink.close();
    // Kept with the finished data: a later --resume of the same run is then a no-op in every format.
    writeRunSettings(out, { ...settings, complete: { episodes: summary.episodes, frames: summary.frames } });
    output.close();
    return { ...summary, steps, seconds: elapsed(), resumedFrom: committed };
  } catch (e) {
    await sink.abort();
    const cause = output.failure(e);
    output.abandon();
    throw cause;
  }
}

/**
 * The policy as the dataset records it and the workers load it: an ONNX file is recorded by the
 * path as given and its sha256 (so `--resume` and `merge` refuse another file), and loaded by
 * its absolute path.
 */
async function runPolicy(given: GeneratePolicy, cwd: string | undefined): Promise<{ policy: PolicySpec; policyPath?: string }> {
  if (given.kind !== 'onnx') return { policy: { kind: given.kind, noise: given.noise, epsilon: given.epsilon } };
  const { readPolicyFile } = await import('../policy/load.js');
  const read = readPolicyFile(given.file, cwd);
  return { policy: { kind: 'onnx', noise: given.noise, epsilon: given.epsilon, file: given.file, sha256: read.sha256 }, policyPath: read.path };
}

/** The format registry, as the workers import it (the compiled .js, or the .ts source under tsx). */
const REGISTRY_MODULE = new URL(`../export/registry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;


type RunSettings = Record<string, unknown>;
interface RecordedRun {
  /** Set once the run finished. */
  complete?: { episodes: number; frames: number };
}

/**
 * A resume continues only the run it was started as: same format, config, cameras and run
 * settings (seed, episodes, shard, policy, codec, checkpoint, layout; not --workers).
 */
function runSettings(opts: GenerateOptions, meta: DatasetMeta): RunSettings {
  return { format: opts.format, config_hash: meta.configHash, cameras: meta.cameras, run: meta.run };
}

function writeRunSettings(dir: string, settings: RunSettings): void {
  writeFileAtomic(join(dir, RUN_SETTINGS), `${JSON.stringify(settings, null, 2)}\n`);
}

/**
 * What DIR records of an earlier run of these settings: null when it records none (a fresh start);
 * refused, naming the fields, when the earlier run had other settings. Without a record, the
 * format is asked whether DIR holds this run finished (a dataset written before the record existed).
 */
function recordedRun(dir: string, settings: RunSettings, finishedByFormat: () => { episodes: number; frames: number } | null): RecordedRun | null {
  const file = join(dir, RUN_SETTINGS);
  if (!existsSync(file)) {
    const complete = finishedByFormat();
    return complete ? { complete } : null;
  }
  const { complete, ...before } = readJson<RunSettings & RecordedRun>(file);
  const differing = differingPaths(before, settings);
  if (differing.length > 0) {
    const what = complete ? 'holds a finished run' : 'was started';
    throw new TrajforgeError('E_DATASET_EXISTS', `${dir} ${what} with different settings (these differ: ${differing.join(', ')}; see ${file}); use the same command, or --overwrite to start again`, { file });
  }
  return complete ? { complete } : {};
}

/** Dotted paths where two JSON values differ (objects compared key by key). */
function differingPaths(a: unknown, b: unknown, at = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => differingPaths(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at || '(all)'];
}

/** Entries of an output folder other than the lock and the ownership marker. */
function ownEntries(dir: string): string[] {
  return readdirSync(dir).filter((e) => e !== LOCK_FILE && e !== MARKER_FILE);
}

function isEmptyOutput(dir: string): boolean {
  return ownEntries(dir).length === 0;
}

/** Staging areas of interrupted runs: DIR/.trajforge* (one format) or DIR/<format>/.trajforge* (several). */
function hasInterruptedRun(dir: string): boolean {
  const staged = (d: string) => existsSync(d) && ownEntries(d).some((e) => e.startsWith('.trajforge'));
  return staged(dir) || readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && staged(join(dir, e.name)));
}
