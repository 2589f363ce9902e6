/**
 * trajforge replay: a stored simulator dataset re-simulated from each episode's seed and recorded
 * actions, rendered with other cameras, resolutions, channels or light (ManiSkill's
 * replay_trajectory), and written as a new dataset. The physics is deterministic, so the replayed
 * states must equal the stored ones exactly; an override that changes the physics (or a dataset
 * from another version of the simulator) is caught by that check, naming the episode and step.
 */
import type { ResolvedEnv } from '../config/parse.js';
import { validateEnvConfig } from '../config/parse.js';
import { applyOverrides } from '../config/overrides.js';
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { datasetMeta as envDatasetMeta, type DatasetSummary } from '../dataset/meta.js';
import { writeEpisodes, sinkEntries } from '../dataset/sink.js';
import { replayEpisode } from '../episode/replay.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { writeOutput, type OutputOptions } from '../output/folder.js';
import { CHANNELS, Renderer, type Channel } from '../render/renderer.js';
import { createEnv } from '../sim/env.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import { datasetOutput } from './dataset-output.js';
import { checkInt, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

export type ReplayProgress = StageProgress<'replay'>;

export interface ReplayOptions extends PipelineCallbacks<ReplayProgress> {
  /** A trajforge LeRobot dataset of simulated episodes (it records each episode's seed and actions). */
  dataset: string;
  out: string;
  overwrite?: boolean;
  /** `PATH=VALUE` overrides of the stored config (cameras, resolution, light; see config/overrides.ts). */
  overrides?: readonly string[];
  /** The channels every camera renders (default: what each camera declares). */
  channels?: Channel[];
  /** The first `episodes` episodes (default: all). */
  episodes?: number;
  format?: string;
  codec?: VideoCodec;
  gop?: number;
}

export interface ReplaySummary extends DatasetSummary {
  envId: string;
  format: string;
  configHash: string;
  /** Steps re-simulated; each equal to the stored state. */
  steps: number;
  seconds: number;
}

export async function replayDataset(opts: ReplayOptions): Promise<ReplaySummary> {
  const elapsed = stopwatch();
  const { format, sink, codec, gop } = await datasetOutput(opts);
  const src = resolveIn(opts.cwd, opts.dataset);
  const stored = datasetMeta(src);
  // Teleoperated episodes were simulated from their seeds too (play re-simulates each before writing).
  if (stored.source && stored.source.kind !== 'simulator' && stored.source.kind !== 'teleop') {
    throw new TrajforgeError('E_USAGE', `${opts.dataset} holds ${stored.source.kind} episodes, which have no simulator seed to replay from`);
  }
  if (!stored.config) throw new TrajforgeError('E_USAGE', `${opts.dataset} records no environment config to replay in`);
  for (const c of opts.channels ?? []) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${c}' (known: ${CHANNELS.join(', ')})`);
  const source = `${src}/meta/trajforge.json (the stored config)${opts.overrides?.length ? ` with --set ${opts.overrides.join(' --set ')}` : ''}`;
  const resolved: ResolvedEnv = validateEnvConfig(opts.overrides?.length ? applyOverrides(stored.config, opts.overrides, source) : stored.config, source);
  const cfg = resolved.config;
  const cameras = cfg.cameras
    .map((c) => ({ name: c.name, width: c.resolution[0], height: c.resolution[1], channels: (opts.channels ? CHANNELS.filter((ch) => opts.channels!.includes(ch)) : c.channels) as Channel[] }))
    .filter((c) => c.channels.length > 0);
  const limit = opts.episodes === undefined ? Infinity : checkInt(opts.episodes, 'episodes', 1);
  const total = Math.min(limit, stored.run.episodes);
  const meta = envDatasetMeta(resolved, { cameras, run: { ...stored.run, episodes: total, codec, gop, policy: { kind: 'replay', noise: 0, epsilon: 0 } } });
  const out = resolveIn(opts.cwd, opts.out);
  const spec: OutputOptions = { kind: 'dataset', command: 'replay', mode: opts.overwrite ? 'overwrite' : 'new', entries: sinkEntries(sink, meta), accepts: ['overwrite'], inputs: [src], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };

  const env = await createEnv(resolved);
  const renderer = new Renderer();
  let steps = 0;
  let done = 0;
  async function* replayed(): AsyncGenerator<EpisodeData> {
    for await (const ep of readLeRobotEpisodes(src, { channels: [] })) {
      if (done >= total) return;
      const { episode: again, maxDeviation, firstDivergence: d } = await replayEpisode(env, renderer, ep, cameras);
      if (d) {
        throw new TrajforgeError(
          'E_DATASET_INVALID',
          `${opts.dataset}: episode ${ep.episode} (seed ${ep.seed}) does not replay: at step ${d.step} observation ${d.index} is ${d.replayed}, stored ${d.stored}; an override changed the physics, or the dataset comes from another version of the simulator`,
        );
      }
      if (maxDeviation !== 0) {
        throw new TrajforgeError('E_DATASET_INVALID', `${opts.dataset}: episode ${ep.episode} (seed ${ep.seed}) replays to ${again.length} steps, stored ${ep.length}; an override changed the physics or the time limit`);
      }
      steps += again.length;
      opts.onProgress?.({ stage: 'replay', done: ++done, total, elapsed: elapsed() });
      yield again;
    }
  }
  try {
    opts.onProgress?.({ stage: 'replay', done: 0, total, elapsed: elapsed() });
    const summary = await writeOutput(out, spec, (folder) => writeEpisodes(sink, folder, meta, replayed()));
    return { ...summary, envId: cfg.id, configHash: resolved.hash, format, steps, seconds: elapsed() };
  } finally {
    env.close();
  }
}
