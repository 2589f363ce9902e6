import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import { datasetMeta, type DatasetSummary } from '../dataset/meta.js';
import { writeEpisodes, sinkEntries } from '../dataset/sink.js';
import { episodeSeed } from '../episode/rollout.js';
import { simulateEpisode } from '../episode/simulate.js';
import { DEFAULT_LAYOUT } from '../export/lerobot/format.js';
import { writeOutput, type OutputOptions } from '../output/folder.js';
import { checkModelForEnv, dreamEpisodes, type DreamStats } from '../model/dream.js';
import { WorldModelSession } from '../model/session.js';
import { modelWorkers } from '../parallel/session-pool.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { makePolicy, POLICY_KINDS, type PolicyKind } from '../policy/index.js';
import type { OnnxPolicy } from '../policy/onnx.js';
import type { AnyPolicy, PolicySpec } from '../policy/policy.js';
import { Renderer } from '../render/renderer.js';
import { createEnv } from '../sim/env.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import type { Fit } from '../video/resample.js';
import { readStartFrames } from './start-frames.js';
import { envlessMeta, meanEpisodeLength } from './envless-meta.js';
import { dreamFromVideo, type ModelPolicy } from '../model/dream-video.js';
import { sampleSpace, type BoxSpace, type DiscreteSpace } from '../core/spaces.js';
import { Rng } from '../core/rng.js';
import type { EpisodeSink } from '../dataset/sink.js';
import type { DatasetMeta } from '../dataset/meta.js';
import type { EpisodeData } from '../dataset/episode.js';
import type { ModelCard } from '../model/card.js';
import { datasetOutput } from './dataset-output.js';
import { checkInt, checkThreads, checkNumber, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/**
 * dream: one event per episode written; with `compare`, redream: one per episode dreamed again
 * (nothing written), simulate: one per episode simulated and rendered (nothing written).
 */
export type DreamProgress = StageProgress<'dream' | 'redream' | 'simulate'>;

export interface DreamOptions extends PipelineCallbacks<DreamProgress> {
  /** A model folder (trajforge train) trained on `env`. */
  model: string;
  /**
   * The environment the model was trained on (loadEnv): it supplies the real reset frames, the
   * policies' observations and the task. Absent (a model of another tool's dataset): dreams start
   * from `fromVideo` and run in the model alone (model/dream-video.ts), the policy random within
   * the card's action bounds or an ONNX file over the state estimate or latent.
   */
  env?: ResolvedEnv;
  /** The dataset folder: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  /** Worker threads running the encoder and decoder, one onnxruntime thread each (default: one per core, at most 8; 1: this thread). */
  threads?: number;
  overwrite?: boolean;
  /** Default 50. */
  episodes?: number;
  /**
   * Policy acting on the dreamed observations: expert (default when the environment has one),
   * random, noise, or an ONNX policy file (`file` resolved against `cwd`) over the observation or,
   * with an input named `latent` (or as wide as the model's latent), over the model's latent z_t.
   */
  policy?: { kind?: PolicyKind; noise?: number; epsilon?: number } | { kind: 'onnx'; file: string; noise?: number; epsilon?: number };
  seed?: number;
  /** Steps at most per episode (default: the environment's time limit). */
  horizon?: number;
  /** Episodes dreamed together per model call (>= 1). Default 256. */
  batch?: number;
  /** Export format(s), comma-separated. Default lerobot. */
  format?: string;
  /** Default h264. */
  codec?: VideoCodec;
  /** Keyframe interval (>= 1). Default 2. */
  gop?: number;
  /** Also time the dream again without writing and the simulator on the same seeds, for the speedup. */
  compare?: boolean;
  /**
   * Start the dreams from frames of this video (any container and codec ffmpeg reads) instead of
   * the environment's rendered resets: `episodes` frames evenly spaced over it, resampled to the
   * model's input (src/pipeline/start-frames.ts); each episode records its start frame.
   */
  fromVideo?: string;
  /** How the video's frames fill the model's input when their aspect differs (default crop). */
  fit?: Fit;
}

export interface DreamComparison {
  /** The same episodes dreamed again, nothing written. */
  redreamedSteps: number;
  dreamStepsPerSecond: number;
  /** The same seeds and policy in the simulator, rendered rgb at the model's input size, nothing written, one thread. */
  simulatedSteps: number;
  simulatorSeconds: number;
  simulatorStepsPerSecond: number;
  simulatorWidth: number;
  simulatorHeight: number;
  /** dreamStepsPerSecond / simulatorStepsPerSecond. */
  speedup: number;
}

export interface DreamSummary extends DatasetSummary {
  envId: string;
  modelId: string;
  format: string;
  policy: PolicyKind | 'onnx';
  horizon: number;
  /** The dataset's one camera: the model's, at its decoded size. */
  camera: string;
  width: number;
  height: number;
  /** Model steps dreamed. */
  steps: number;
  /** Seconds in the model (and policies), in resets and start frames, and both together. */
  modelSeconds: number;
  startSeconds: number;
  dreamSeconds: number;
  /** Seconds with writing. */
  seconds: number;
  /** Steps and frames per second of dream time (0 when no time was measured). */
  stepsPerSecond: number;
  framesPerSecond: number;
  compare?: DreamComparison;
}

/**
 * Rolls out synthetic episodes inside a world model, starting from the environment's real reset
 * frames, and writes them as a dataset marked as world-model data.
 */
export async function dreamDataset(opts: DreamOptions): Promise<DreamSummary> {
  const elapsed = stopwatch();
  const { format, sink, codec, gop } = await datasetOutput(opts);
  const episodes = checkInt(opts.episodes ?? 50, 'episodes', 1);
  const threads = checkThreads(opts.threads);
  const seed = checkInt(opts.seed ?? 0, 'seed', 0);
  const batch = checkInt(opts.batch ?? 256, 'batch', 1);
  const noise = checkNumber(opts.policy?.noise ?? 0, 'noise');
  const epsilon = checkNumber(opts.policy?.epsilon ?? 0, 'epsilon');
  if (noise < 0) throw new TrajforgeError('E_USAGE', `--noise must be >= 0, got ${noise}`);
  if (epsilon < 0 || epsilon > 1) throw new TrajforgeError('E_USAGE', `--epsilon must be in [0, 1], got ${epsilon}`);

  if (!opts.env) return dreamWithoutEnv(opts, { format, sink, codec, gop, episodes, threads, seed, batch, noise, epsilon, elapsed });
  const resolved = opts.env;
  const cfg = resolved.config;
  const kind = opts.policy?.kind ?? (cfg.expert ? 'expert' : 'noise');
  if (kind !== 'onnx' && (!POLICY_KINDS.includes(kind) || kind === 'replay')) throw new TrajforgeError('E_USAGE', `--policy must be one of expert, random, noise or onnx:PATH; got '${kind}'`);
  if (kind === 'expert' && !cfg.expert) throw new TrajforgeError('E_USAGE', `${cfg.id} declares no expert; use --policy random or noise`);
  const onnxFile = opts.policy && 'file' in opts.policy ? opts.policy.file : undefined;
  if (kind === 'onnx' && (typeof onnxFile !== 'string' || onnxFile === '')) throw new TrajforgeError('E_USAGE', `an ONNX policy needs its file: policy { kind: 'onnx', file } (--policy onnx:PATH)`);
  const horizon = checkInt(opts.horizon ?? cfg.task.timeLimit, 'horizon', 1);

  const modelDir = resolveIn(opts.cwd, opts.model);
  const card = readModelCard(modelDir);
  if (card.dataset.env_id !== cfg.id) throw new TrajforgeError('E_USAGE', `the model was trained on ${card.dataset.env_id}, not ${cfg.id}`);
  const env = await createEnv(resolved);
  let onnx: OnnxPolicy | undefined;
  try {
    checkModelForEnv(card, env);
    if (card.dataset.config_hash !== resolved.hash) opts.onNotice?.(`${cfg.id}'s config differs from the one the model was trained on (hash ${card.dataset.config_hash.slice(0, 12)})`, 'input');

    const policyOpts = { noise, epsilon };
    let policy: PolicySpec = { kind: kind as PolicyKind, noise, epsilon };
    if (kind === 'onnx') {
      const { loadOnnxPolicyFile } = await import('../policy/load.js');
      const loaded = await loadOnnxPolicyFile(onnxFile!, env, { cwd: opts.cwd, latent: card.latent, latentModel: card.id, noise, epsilon });
      onnx = loaded.policy;
      policy = { kind: 'onnx', noise, epsilon, file: onnxFile!, sha256: loaded.file.sha256 };
      if (opts.compare && onnx.input === 'latent') {
        throw new TrajforgeError('E_USAGE', `--compare runs the policy in the simulator too, where ${onnxFile} (a latent policy) has no latent to read; drop --compare, or compare with a policy over observations`);
      }
    }
    const meta = datasetMeta(resolved, {
      cameras: [{ name: card.camera, width: card.decoded.width, height: card.decoded.height, channels: ['rgb'] }],
      source: { kind: 'world-model', modelId: card.id, model: modelDir },
      run: { seed, episodes, shard: { index: 0, count: 1 }, policy, codec, gop, checkpoint: 32, layout: DEFAULT_LAYOUT },
    });
    const jobs = Array.from({ length: episodes }, (_, k) => ({ episode: k, seed: episodeSeed(seed, k) }));
    if (opts.fit !== undefined && opts.fromVideo === undefined) throw new TrajforgeError('E_USAGE', `--fit applies to --from-video`);
    // Read before the output opens: a bad video is an error with nothing written.
    const starts = opts.fromVideo === undefined ? undefined : await readStartFrames(resolveIn(opts.cwd, opts.fromVideo), card, meta.fps, episodes, opts.fit ?? 'crop');
    if (starts && starts.count < episodes) opts.onNotice?.(`${opts.fromVideo} gives ${starts.count} frame(s) at ${meta.fps} fps for ${episodes} episodes: starts repeat`, 'input');
    // One ONNX session serves every episode; each gets a fork with its own random stream.
    const freshPolicy = (): AnyPolicy => (onnx ? onnx.fork() : makePolicy(kind as PolicyKind, env, policyOpts));
    const session = await WorldModelSession.load(card, readModelParts(modelDir, card), modelWorkers(threads));
    const dream = (stats: DreamStats) => dreamEpisodes({ model: session, env, renderer: new Renderer(), makePolicy: freshPolicy, jobs, horizon, batch, ...(starts ? { starts } : {}) }, stats);
    try {
      const result = await writeDream(opts, { sink, meta, modelDir, card, episodes, elapsed }, dream, { envId: cfg.id, format, policy: kind, horizon });
      if (opts.compare) {
        // Like for like: the simulator pass below writes nothing, so the dream is timed again
        // without the writer too (its ffmpeg encoders otherwise share the machine with the model).
        const alone: DreamStats = { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };
        let replayed = 0;
        let redreamed = 0;
        for await (const ep of dream(alone)) {
          replayed += ep.length;
          opts.onProgress?.({ stage: 'redream', done: ++redreamed, total: episodes, elapsed: elapsed() });
        }
        const renderer = new Renderer();
        const simPolicy = freshPolicy();
        let simSteps = 0;
        let simSeconds = 0;
        for (const [n, j] of jobs.entries()) {
          // Timed per episode, so the caller's progress callback is not counted as simulation.
          const simulating = stopwatch();
          simSteps += (await simulateEpisode(env, simPolicy, renderer, j.episode, j.seed, [{ name: card.camera, channels: ['rgb'] }])).length;
          simSeconds += simulating();
          opts.onProgress?.({ stage: 'simulate', done: n + 1, total: jobs.length, elapsed: elapsed() });
        }
        const simRate = simSteps / simSeconds;
        const dreamRate = alone.steps / (alone.modelSeconds + alone.startSeconds);
        result.compare = {
          redreamedSteps: replayed,
          dreamStepsPerSecond: dreamRate,
          simulatedSteps: simSteps,
          simulatorSeconds: simSeconds,
          simulatorStepsPerSecond: simRate,
          simulatorWidth: card.input.width,
          simulatorHeight: card.input.height,
          speedup: dreamRate / simRate,
        };
      }
      return result;
    } finally {
      await session.release();
    }
  } finally {
    await onnx?.dispose();
    env.close();
  }
}

/** What dreamDataset has checked before it knows whether an environment is at hand. */
interface DreamCommon {
  format: string;
  sink: EpisodeSink;
  codec: VideoCodec;
  gop: number;
  episodes: number;
  threads: number;
  seed: number;
  batch: number;
  noise: number;
  epsilon: number;
  elapsed: () => number;
}

/** dreamDataset without an environment: from video frames, in the model alone (see DreamOptions.env). */
async function dreamWithoutEnv(opts: DreamOptions, c: DreamCommon): Promise<DreamSummary> {
  const modelDir = resolveIn(opts.cwd, opts.model);
  const card = readModelCard(modelDir);
  const where = `the model was trained on ${card.dataset.env_id}`;
  if (opts.fromVideo === undefined) throw new TrajforgeError('E_USAGE', `dream without --env starts from video: pass --from-video FILE (or --env with the environment ${card.dataset.env_id} to dream from its resets)`);
  if (opts.compare) throw new TrajforgeError('E_USAGE', `--compare runs the simulator beside the model; it needs --env`);
  const kind = opts.policy?.kind ?? 'random';
  if (kind !== 'random' && kind !== 'onnx') throw new TrajforgeError('E_USAGE', `without --env the policy is random or onnx:PATH (${kind} needs the environment)`);
  const fps = card.dataset.fps;
  if (fps === undefined) throw new TrajforgeError('E_USAGE', `${opts.model}: ${where}, and its card (an earlier release's) records no frame rate to read the video at; pass --env with the environment's config file`, { file: modelDir });
  const horizon = checkInt(opts.horizon ?? meanEpisodeLength(card), 'horizon', 1);
  const A = card.action.names.length;
  if (A === 0) throw new TrajforgeError('E_MODEL_SHAPE', `${opts.model}: ${where}, whose action space is empty: there is nothing to control in a dream without an environment`, { file: modelDir });
  const space: BoxSpace | DiscreteSpace = card.action.discrete
    ? { type: 'discrete', n: A, names: [...card.action.names] }
    : { type: 'box', dtype: 'float32', shape: [A], low: card.action.low.map((v) => v ?? -Infinity), high: card.action.high.map((v) => v ?? Infinity), names: [...card.action.names] };
  const bounded = space.type === 'discrete' || space.low.every(Number.isFinite) && space.high.every(Number.isFinite);
  if (!bounded && (kind === 'random' || c.noise > 0 || c.epsilon > 0)) {
    throw new TrajforgeError('E_USAGE', `${where}, whose actions declare no bounds (another tool's dataset), so there is no range to draw random actions${kind === 'random' ? '' : ' or noise'} from; pass --policy onnx:PATH (a \`trajforge bc\` policy of that dataset clips its actions to the range it saw)${kind === 'random' ? '' : ' without --noise / --epsilon'}`);
  }
  const onnxFile = opts.policy && 'file' in opts.policy ? opts.policy.file : undefined;
  if (kind === 'onnx' && (typeof onnxFile !== 'string' || onnxFile === '')) throw new TrajforgeError('E_USAGE', `an ONNX policy needs its file: policy { kind: 'onnx', file } (--policy onnx:PATH)`);
  let onnx: OnnxPolicy | undefined;
  let policy: PolicySpec = { kind: kind as PolicyKind, noise: c.noise, epsilon: c.epsilon };
  if (kind === 'onnx') {
    const { loadOnnxPolicyFile } = await import('../policy/load.js');
    const loaded = await loadOnnxPolicyFile(onnxFile!, { observationSize: card.state.names.length, action: space }, { cwd: opts.cwd, latent: card.latent, latentModel: card.id, noise: c.noise, epsilon: c.epsilon });
    onnx = loaded.policy;
    policy = { kind: 'onnx', noise: c.noise, epsilon: c.epsilon, file: onnxFile!, sha256: loaded.file.sha256 };
  }
  try {
    opts.onNotice?.(`${where}, which is not an environment at hand: dreams run in the model alone from ${opts.fromVideo}, and the output records no environment config`, 'input');
    const meta = {
      ...envlessMeta(card, [{ name: card.camera, width: card.decoded.width, height: card.decoded.height, channels: ['rgb'] }], { seed: c.seed, episodes: c.episodes, shard: { index: 0, count: 1 }, policy, codec: c.codec, gop: c.gop, checkpoint: 32, layout: DEFAULT_LAYOUT }, fps),
      source: { kind: 'world-model', modelId: card.id, model: modelDir },
    } satisfies DatasetMeta;
    const starts = await readStartFrames(resolveIn(opts.cwd, opts.fromVideo), card, fps, c.episodes, opts.fit ?? 'crop');
    if (starts.count < c.episodes) opts.onNotice?.(`${opts.fromVideo} gives ${starts.count} frame(s) at ${fps} fps for ${c.episodes} episodes: starts repeat`, 'input');
    const jobs = Array.from({ length: c.episodes }, (_, k) => ({ episode: k, seed: episodeSeed(c.seed, k) }));
    const makePolicy = (): ModelPolicy => (onnx ? onnx.fork() : randomModelPolicy(space));
    const session = await WorldModelSession.load(card, readModelParts(modelDir, card), modelWorkers(c.threads));
    try {
      const dream = (stats: DreamStats) => dreamFromVideo({ model: session, starts, jobs, horizon, batch: c.batch, space, makePolicy }, stats);
      return await writeDream(opts, { sink: c.sink, meta, modelDir, card, episodes: c.episodes, elapsed: c.elapsed }, dream, { envId: card.dataset.env_id, format: c.format, policy: kind as PolicyKind | 'onnx', horizon });
    } finally {
      await session.release();
    }
  } finally {
    await onnx?.dispose();
  }
}

/** Uniform random actions within finite bounds (or choices), from each episode's seed. */
function randomModelPolicy(space: BoxSpace | DiscreteSpace): ModelPolicy {
  let rng = new Rng(0);
  return {
    reset: (seed) => {
      rng = new Rng(seed);
    },
    act: () => sampleSpace(space, rng),
  };
}

/**
 * Writes the episodes `dream` yields as the dataset at opts.out and sums them up: the part of
 * dreamDataset that does not depend on whether an environment is at hand.
 */
async function writeDream(
  opts: DreamOptions,
  w: { sink: EpisodeSink; meta: DatasetMeta; modelDir: string; card: ModelCard; episodes: number; elapsed: () => number },
  dream: (stats: DreamStats) => AsyncGenerator<EpisodeData>,
  about: Pick<DreamSummary, 'envId' | 'format' | 'policy' | 'horizon'>,
): Promise<DreamSummary> {
  const { card } = w;
  const spec: OutputOptions = { kind: 'dataset', command: 'dream', mode: opts.overwrite ? 'overwrite' : 'new', entries: sinkEntries(w.sink, w.meta), accepts: ['overwrite'], inputs: [w.modelDir], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  const stats: DreamStats = { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };
  let successes = 0;
  let frames = 0;
  let written = 0;
  const writing = stopwatch();
  const summary = await writeOutput(resolveIn(opts.cwd, opts.out), spec, (folder) =>
    writeEpisodes(w.sink, folder, w.meta, dream(stats), (ep) => {
      successes += ep.success[ep.length - 1] ? 1 : 0;
      frames += ep.length;
      opts.onProgress?.({ stage: 'dream', done: ++written, total: w.episodes, elapsed: w.elapsed() });
    }),
  );
  const seconds = writing();
  const dreamSeconds = stats.modelSeconds + stats.startSeconds;
  const rate = (n: number) => (dreamSeconds > 0 ? n / dreamSeconds : 0);
  return {
    ...summary,
    episodes: w.episodes,
    frames,
    successes,
    ...about,
    modelId: card.id,
    camera: card.camera,
    width: card.decoded.width,
    height: card.decoded.height,
    steps: stats.steps,
    modelSeconds: stats.modelSeconds,
    startSeconds: stats.startSeconds,
    dreamSeconds,
    seconds,
    stepsPerSecond: rate(stats.steps),
    framesPerSecond: rate(frames),
  };
}
