/**
 * trajforge label: videos (any container and codec ffmpeg reads, any size and frame rate) or the
 * videos of a LeRobot dataset -> a dataset whose actions a world model's inverse dynamics inferred.
 *
 * Frames are resampled to the environment's control rate and the model's input size while they
 * are decoded (src/video/resample.ts states the rule); each source is cut into episodes of
 * `episodeLength` steps (consecutive episodes share their boundary frame, so no transition is
 * lost; a remainder of at least `minLength` steps is an episode of its own), and episodes are
 * labelled in batches of about `batch` frames (src/model/label.ts).
 */
import { join } from 'node:path';
import type { ResolvedEnv } from '../config/parse.js';
import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { readAhead } from '../core/read-ahead.js';
import type { EpisodeData, EpisodeProvenance } from '../dataset/episode.js';
import { datasetMeta, DEFAULT_LAYOUT, type DatasetMeta, type DatasetSummary } from '../dataset/meta.js';
import { writeEpisodes, sinkEntries } from '../dataset/sink.js';
import { foreignLayout } from '../export/lerobot/foreign.js';
import { episodeVideoFile, readEpisodesMeta, readInfo } from '../export/lerobot/reader.js';
import { actionTarget, checkModelTarget, type ModelCard } from '../model/card.js';
import { cardResidualScale, CONFIDENCE_KEY, labelClips, labelledEpisode, LATENT_KEY, stateEstimate, type ClipLabels, type FrameClip } from '../model/label.js';
import { WorldModelSession } from '../model/session.js';
import { modelWorkers } from '../parallel/session-pool.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { writeOutput, type OutputOptions } from '../output/folder.js';
import { listVideoInputs } from '../video/inputs.js';
import { probeVideo } from '../video/probe.js';
import { openResampled, type Fit } from '../video/resample.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import { latentNames } from './encode.js';
import { datasetOutput } from './dataset-output.js';
import { envlessMeta, meanEpisodeLength } from './envless-meta.js';
import { checkInt, checkThreads, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** label: one event per source file (or dataset episode) labelled or skipped. */
export type LabelProgress = StageProgress<'label'>;

export interface LabelOptions extends PipelineCallbacks<LabelProgress> {
  /** A video file, a folder of videos (recursively), a glob, or a LeRobot dataset folder (its actions are ignored). */
  videos: string;
  /** A model folder (trajforge train) with an inverse model. */
  model: string;
  /** The new dataset: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  overwrite?: boolean;
  /** The environment whose dataset schema the output takes (default: the model's, by id; when trajforge finds none, the output records no environment config). */
  env?: ResolvedEnv;
  /** Frames per second the video is resampled to (default: the environment's control rate, else the rate of the model's training data). */
  fps?: number;
  /** Steps per episode (default: the environment's time limit; without one, the model's training episodes' mean length). */
  episodeLength?: number;
  /** A source's remainder shorter than this many steps is dropped (default 1: every transition is kept). */
  minLength?: number;
  /** How frames of another aspect ratio fill the model's input (default crop). */
  fit?: Fit;
  /** A LeRobot source's camera (a video feature key or its last part; default: the model's camera, else the only one). */
  camera?: string;
  /** One unreadable file in a folder ends the run (default: it is skipped with a notice and listed in the summary). */
  strict?: boolean;
  /** Frames per model batch (>= 2). Default 2048. */
  batch?: number;
  /** Export format(s), comma-separated. Default lerobot. */
  format?: string;
  codec?: VideoCodec;
  gop?: number;
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  providers?: readonly string[];
  /** onnxruntime's intra-op threads per model part (default: one per core, at most 8; PushCube, 2 cores: 901 frames/s on 2 threads, 676 on 1). */
  threads?: number;
}

export interface SkippedSource {
  file: string;
  reason: string;
}

export interface LabelSummary extends DatasetSummary {
  envId: string;
  modelId: string;
  format: string;
  /** Sources labelled, and those skipped with why. */
  sources: number;
  skipped: SkippedSource[];
  /** Frames labelled (after resampling; boundary frames shared by two episodes count once). */
  sourceFrames: number;
  fps: number;
  width: number;
  height: number;
  episodeLength: number;
  /** The residual mapped to confidence 0.5, and where it came from. */
  confidenceScale: { value: number; from: 'card' | 'data' };
  meanConfidence: number;
  /** Seconds from the first decoded frame to the written dataset, of which the time spent waiting for decoded frames and for labels (the model labels one batch while the previous one is written). */
  seconds: number;
  decodeSeconds: number;
  modelSeconds: number;
  /** sourceFrames / seconds: decoding, model and writing together. */
  framesPerSecond: number;
}

/** A source to label: a video file, or one episode of a LeRobot dataset's camera video. */
interface Source {
  /** What provenance and messages name: the file, or DATASET#episode. */
  name: string;
  file: string;
  /** The source's own rate (0 when the file states none) and displayed size, for provenance. */
  fps: number;
  width: number;
  height: number;
  /** A stretch of the file (LeRobot episodes share files): start in seconds and frames at the source rate. */
  start?: number;
  frames?: number;
  /**
   * Episodes of one file at the environment's rate, in file order: the file is decoded once, front
   * to back, and cut at these frame indices (a LeRobot dataset's concatenated episodes).
   */
  segments?: { name: string; first: number; count: number }[];
}

/** What reading sources reports besides clips: a segment (a file, or an episode of one) read whole or skipped. */
interface SourceEvents {
  done(name: string, frames: number): void;
  skipped(name: string, error: TrajforgeError): void;
}

/**
 * Labels videos with a world model's inverse dynamics and writes them as a dataset (LeRobot v3 and
 * any other `format`): actions, `observation.latent`, `action.confidence`, the model's reward,
 * the state estimate where the model has one, and each episode's source file and frame range.
 */
export async function labelVideos(opts: LabelOptions): Promise<LabelSummary> {
  const elapsed = stopwatch();
  const { format, sink, codec, gop } = await datasetOutput(opts);
  const batch = checkInt(opts.batch ?? 2048, 'batch', 2);
  const minLength = checkInt(opts.minLength ?? 1, 'min-length', 1);
  const fit: Fit = opts.fit ?? 'crop';
  if (!['crop', 'stretch', 'pad'].includes(fit)) throw new TrajforgeError('E_USAGE', `--fit must be crop, stretch or pad, got '${fit}'`);

  const modelDir = resolveIn(opts.cwd, opts.model);
  const card = readModelCard(modelDir);
  if (card.action.names.length === 0) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${opts.model}: the model (trained on ${card.dataset.env_id}) infers no actions: its environment has an empty action space, so there is nothing to label`, { file: modelDir });
  }
  const env = opts.env ?? modelEnv(card, opts.cwd);
  if (env) {
    const cfg = env.config;
    const { note } = checkModelTarget(card, {
      where: `--env ${cfg.id}`,
      envId: cfg.id,
      configHash: env.hash,
      cameras: cfg.cameras.map((c) => ({ name: c.name, width: c.resolution[0], height: c.resolution[1] })),
      ...actionTarget(cfg.actions),
    });
    if (note) opts.onNotice?.(note, 'input');
  } else {
    opts.onNotice?.(`the model was trained on ${card.dataset.env_id}, which is not an environment trajforge finds by id: the output records no environment config (pass --env with its config file to record one)`, 'input');
  }
  const { width, height } = card.input;
  const cameras: DatasetMeta['cameras'] = [{ name: card.camera, width, height, channels: ['rgb'] }];
  const run: DatasetMeta['run'] = { seed: 0, episodes: 0, shard: { index: 0, count: 1 }, policy: { kind: 'inverse-model', noise: 0, epsilon: 0 }, codec, gop, checkpoint: 32, layout: DEFAULT_LAYOUT };
  const envBase = env ? datasetMeta(env, { cameras, run }) : null;
  const rate = opts.fps ?? envBase?.fps ?? card.dataset.fps;
  if (rate === undefined) {
    throw new TrajforgeError('E_USAGE', `${opts.model}: the model was trained on ${card.dataset.env_id}, which is not an environment trajforge finds by id, and its card (written by an earlier release) records no frame rate to resample video to; pass --fps with the rate its training data was recorded at, or --env with the environment's config file`, { file: modelDir });
  }
  if (!(Number.isFinite(rate) && rate > 0)) throw new TrajforgeError('E_USAGE', `--fps must be a positive number, got ${rate}`);
  const fps: number = rate;
  const base: DatasetMeta = envBase ? { ...envBase, fps } : envlessMeta(card, cameras, run, fps);

  // Every source is found and probed before anything is written: a bad single input is an error
  // with nothing written; a bad file among many is skipped (or, with `strict`, an error).
  const input = resolveIn(opts.cwd, opts.videos);
  const skipped: SkippedSource[] = [];
  const { sources, single, lerobot } = await findSources(opts, input, card, fps, skipped);
  // Without an environment's time limit, a LeRobot dataset's episodes stay whole and a video's
  // episodes are as long as the model's training episodes on average.
  const longestEpisode = () => Math.max(1, ...sources.map((src) => (src.segments ? Math.max(...src.segments.map((g) => g.count)) : (src.frames ?? 2)) - 1));
  const episodeLength = checkInt(opts.episodeLength ?? (env ? env.config.task.timeLimit : lerobot ? longestEpisode() : meanEpisodeLength(card)), 'episode-length', 1);
  // Progress and the summary count segments: a LeRobot file's episodes one by one.
  const total = sources.reduce((n, s) => n + (s.segments?.length ?? 1), 0);
  if (sources.length === 0) {
    throw new TrajforgeError('E_VIDEO_INVALID', `${opts.videos}: no readable video to label (${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')})`, { file: input });
  }

  const meta: DatasetMeta = {
    ...base,
    // The observation is the model's state estimate: its features, in its order (none when the model estimates no state).
    observationNames: [...card.state.names],
    extraFeatures: [
      { key: LATENT_KEY, dim: card.latent, names: latentNames(card.latent), modelId: card.id },
      { key: CONFIDENCE_KEY, dim: 1, names: ['confidence'] },
    ],
    source: { kind: 'labelled', modelId: card.id, model: modelDir },
  };
  const out = resolveIn(opts.cwd, opts.out);
  const spec: OutputOptions = { kind: 'dataset', command: 'label', mode: opts.overwrite ? 'overwrite' : 'new', entries: sinkEntries(sink, meta), accepts: ['overwrite'], inputs: [modelDir, input], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };

  const threads = checkThreads(opts.threads);
  // The encoder, most of the work, runs in `threads` one-thread worker sessions, so this thread
  // stays free to decode and write meanwhile (onnxruntime-node blocks the thread that runs a
  // session); the small dynamics and inverse graphs run here.
  const session = await WorldModelSession.load(
    card,
    readModelParts(modelDir, card),
    { providers: opts.providers, threads: 1, ...modelWorkers(threads) },
    modelDir,
  );
  const timing = { decode: 0, model: 0 };
  let sourceFrames = 0;
  let confidenceSum = 0;
  let steps = 0;
  let scale = cardResidualScale(card);
  const scaleFrom: 'card' | 'data' = scale === null ? 'data' : 'card';
  let done = 0;
  let decodeSkipped = 0;

  /** Episodes in order: clips from the sources, labelled a batch at a time. */
  async function* episodes(): AsyncGenerator<EpisodeData> {
    let pending: FrameClip[] = [];
    let pendingFrames = 0;
    let index = 0;
    /** The batch being labelled while the one before it is written. */
    let inFlight: { clips: FrameClip[]; labels: Promise<ClipLabels[]> } | null = null;
    const emit = async function* (batch: { clips: FrameClip[]; labels: Promise<ClipLabels[]> }): AsyncGenerator<EpisodeData> {
      const t0 = performance.now();
      const labels = await batch.labels;
      timing.model += (performance.now() - t0) / 1000;
      // Without the card's scale, the first batch's median residual stands in (see LabelSummary.confidenceScale).
      if (scale === null) scale = median(labels.flatMap((l) => Array.from(l.residual))) || 1e-12;
      for (const [k, clip] of batch.clips.entries()) {
        const l = labels[k]!;
        l.confidence = Float32Array.from(l.residual, (e) => scale! / (scale! + e));
        for (const c of l.confidence) confidenceSum += c;
        steps += l.confidence.length;
        yield labelledEpisode(index++, clip, l, card, stateEstimate(card, l.latents, clip.count));
      }
    };
    const flush = async function* (): AsyncGenerator<EpisodeData> {
      if (pending.length === 0) return;
      const next = { clips: pending, labels: labelClips(session, pending, scale ?? 1) };
      // Awaited in emit; until then a failure must not count as unhandled.
      next.labels.catch(() => undefined);
      pending = [];
      pendingFrames = 0;
      const previous = inFlight;
      inFlight = next;
      if (previous) yield* emit(previous);
    };
    const events: SourceEvents = {
      done: (_, frames) => {
        sourceFrames += frames;
        opts.onProgress?.({ stage: 'label', done: ++done, total, elapsed: elapsed() });
      },
      skipped: (name, e) => {
        // A source that probed well but decodes to under two frames: skipped like an unreadable one.
        if (single || opts.strict) throw e;
        skipped.push({ file: name, reason: e.message });
        decodeSkipped++;
        opts.onNotice?.(`skipped ${name}: ${e.message}`, 'input');
        opts.onProgress?.({ stage: 'label', done: ++done, total, elapsed: elapsed() });
      },
    };
    const decoded = async function* (): AsyncGenerator<FrameClip> {
      for (const src of sources) yield* clipsOf(src, { width, height, fps, fit }, episodeLength, minLength, events);
    };
    // Up to a batch of frames is decoded ahead: ffmpeg keeps decoding while the model runs.
    let t0 = performance.now();
    for await (const clip of readAhead(decoded(), batch, (c) => c.count)) {
      timing.decode += (performance.now() - t0) / 1000;
      pending.push(clip);
      pendingFrames += clip.count;
      if (pendingFrames >= batch) yield* flush();
      t0 = performance.now();
    }
    timing.decode += (performance.now() - t0) / 1000;
    yield* flush();
    if (inFlight) yield* emit(inFlight);
  }

  const started = stopwatch();
  try {
    let written = 0;
    const summary = await writeOutput(out, spec, async (folder) => {
      const s = await writeEpisodes(sink, folder, meta, episodes(), () => {
        // A labelled run's episode count is known as it ends; the sidecar records it.
        meta.run.episodes = ++written;
      });
      // Thrown inside the write, so the empty dataset is removed.
      if (s.episodes === 0) throw new TrajforgeError('E_VIDEO_INVALID', `${opts.videos}: no source gave two frames to label (${skipped.map((k) => k.file).join(', ')})`, { file: input });
      return s;
    });
    const seconds = started();
    return {
      ...summary,
      envId: meta.envId,
      modelId: card.id,
      format,
      sources: total - decodeSkipped,
      skipped,
      sourceFrames,
      fps,
      width,
      height,
      episodeLength,
      confidenceScale: { value: scale ?? 0, from: scaleFrom },
      meanConfidence: steps > 0 ? confidenceSum / steps : 0,
      seconds,
      decodeSeconds: timing.decode,
      modelSeconds: timing.model,
      framesPerSecond: sourceFrames / Math.max(seconds, 1e-9),
    };
  } finally {
    await session.release();
  }
}

/** The environment a model was trained on, by its id; null when trajforge finds none (an environment file elsewhere, or another tool's dataset). */
function modelEnv(card: ModelCard, cwd: string | undefined): ResolvedEnv | null {
  try {
    return loadEnv(card.dataset.env_id, { baseDir: cwd });
  } catch (e) {
    if (e instanceof TrajforgeError && (e.code === 'E_ENV_NOT_FOUND' || e.code === 'E_CONFIG_NOT_FOUND')) return null;
    throw e;
  }
}

/** The sources of `input`, probed; unreadable ones go to `skipped` (or throw, for a single file or with `strict`). */
async function findSources(opts: LabelOptions, input: string, card: ModelCard, fps: number, skipped: SkippedSource[]): Promise<{ sources: Source[]; single: boolean; lerobot: boolean }> {
  const found = listVideoInputs(opts.videos, opts.cwd ?? process.cwd());
  if (found.kind === 'lerobot') return { sources: await lerobotSources(found.dir, opts.camera ?? null, card, fps), single: false, lerobot: true };
  if (opts.camera !== undefined) throw new TrajforgeError('E_USAGE', `--camera picks a camera of a LeRobot dataset; ${opts.videos} is not one`);
  const single = found.files.length === 1 && found.files[0] === input;
  const sources: Source[] = [];
  for (const file of found.files) {
    try {
      let info = await probeVideo(file);
      // No stated rate: frames come at their timestamps. A long span is worth counting, so a few
      // frames hours apart are not stretched to millions.
      if (info.fps === null && (info.durationSeconds ?? 0) * fps > COUNT_FRAMES_PAST) info = await probeVideo(file, { countFrames: true });
      checkUpsampling(file, info.fps ?? (info.frames !== null && info.durationSeconds ? info.frames / info.durationSeconds : null), fps);
      sources.push({ name: file, file, fps: info.fps ?? 0, width: info.width, height: info.height });
    } catch (e) {
      if (single || opts.strict || !(e instanceof TrajforgeError && e.code === 'E_VIDEO_INVALID')) throw e;
      skipped.push({ file, reason: e.message });
      opts.onNotice?.(`skipped ${file}: ${e.message}`, 'input');
    }
  }
  return { sources, single, lerobot: false };
}

/**
 * How many times resampling may repeat a source frame on average. Label infers the action
 * between successive frames: a video far slower than the model's rate (a time-lapse, a broken
 * rate of 1e-5 fps) would become runs of identical frames, millions of them for a few frames.
 */
const MAX_UPSAMPLING = 8;
/** Resampled frames past which a video that states no rate has its frames counted first (about 80 minutes at 20 fps). */
const COUNT_FRAMES_PAST = 100_000;

function checkUpsampling(file: string, sourceFps: number | null, fps: number): void {
  if (sourceFps === null || !(sourceFps > 0) || fps / sourceFps <= MAX_UPSAMPLING) return;
  throw new TrajforgeError(
    'E_VIDEO_INVALID',
    `${file} runs at ${sourceFps.toPrecision(3)} fps; resampling it to ${fps} fps would repeat each frame ${Math.round(fps / sourceFps).toLocaleString('en-US')} times (at most ${MAX_UPSAMPLING}), and successive identical frames show no action; label a video recorded near ${fps} fps, or pass --fps near its own rate`,
    { file },
  );
}

/** One source per episode of a LeRobot dataset's camera: its video file and time range. */
async function lerobotSources(dir: string, camera: string | null, card: ModelCard, fps: number): Promise<Source[]> {
  const layout = await foreignLayout(dir);
  const cams = layout.cameras.filter((c) => c.stored === 'video');
  const images = layout.cameras.filter((c) => c.stored === 'image');
  if (cams.length === 0 && images.length > 0) {
    throw new TrajforgeError('E_USAGE', `${dir} stores its frames as images in its data files (${images.map((c) => c.key).join(', ')}), not as video; label reads video: write those frames to an mp4 (ffmpeg) and label the file`);
  }
  const pick = camera !== null ? cams.find((c) => c.key === camera || c.name === camera) : (cams.find((c) => c.name === card.camera) ?? (cams.length === 1 ? cams[0] : undefined));
  if (!pick) {
    const have = cams.map((c) => c.key).join(', ') || 'none';
    throw new TrajforgeError('E_USAGE', camera !== null ? `${dir} has no video feature '${camera}' (it has ${have})` : `${dir} has several cameras (${have}) and none is the model's '${card.camera}'; pick one with --camera`);
  }
  const info = readInfo(dir);
  if (!info.video_path) throw new TrajforgeError('E_DATASET_INVALID', `${dir}/meta/info.json has no video_path: the dataset stores no videos to label`, { file: join(dir, 'meta', 'info.json') });
  checkUpsampling(dir, info.fps, fps);
  const rows = await readEpisodesMeta(dir);
  const sources: Source[] = [];
  for (const [i, row] of rows.entries()) {
    const from = Number(row[`videos/${pick.key}/from_timestamp`] ?? 0);
    const length = Number(row.length);
    const episode = Number(row.episode_index ?? i);
    const file = episodeVideoFile(dir, info, pick.key, row);
    const name = `${dir}#${episode}`;
    const first = Math.round(from * info.fps);
    // At the environment's rate, a file's episodes are cut from one front-to-back decode (one
    // ffmpeg per file, not per episode); at another rate each episode is resampled on its own.
    const last = sources.at(-1);
    const inOrder = last?.segments && last.file === file && last.segments.at(-1)!.first + last.segments.at(-1)!.count <= first;
    if (info.fps !== fps) sources.push({ name, file, fps: info.fps, width: pick.width, height: pick.height, start: from, frames: Math.max(2, Math.round((length * fps) / info.fps)) });
    else if (inOrder) last.segments!.push({ name, first, count: length });
    else sources.push({ name: file, file, fps: info.fps, width: pick.width, height: pick.height, segments: [{ name, first, count: length }] });
  }
  return sources;
}

/**
 * Cuts one stream of frames into clips of episodeLength + 1 frames, each starting on the previous
 * one's last frame; the remainder is a clip when it holds at least minLength steps.
 */
class EpisodeSplitter {
  private buf: Uint8Array;
  private have = 0;
  /** Index (after resampling) of buf's first frame within the source. */
  private first = 0;
  total = 0;

  constructor(
    private readonly src: { name: string; fps: number; width: number; height: number },
    private readonly P: number,
    private readonly need: number,
    private readonly minLength: number,
  ) {
    this.buf = new Uint8Array(Math.min(need, 64) * P);
  }

  /** Room for `frames` frames: buffers grow by doubling up to a whole episode, so a long --episode-length costs memory only when a source is that long. */
  private reserve(frames: number): void {
    if (frames * this.P <= this.buf.length) return;
    const grown = new Uint8Array(Math.min(this.need, Math.max(frames, (2 * this.buf.length) / this.P)) * this.P);
    grown.set(this.buf.subarray(0, this.have * this.P));
    this.buf = grown;
  }

  /** Frames [from, from + count) of `data`; returns the clips they complete. */
  push(data: Uint8Array, from: number, count: number): FrameClip[] {
    const { P, need } = this;
    const out: FrameClip[] = [];
    let offset = from;
    while (offset < from + count) {
      const take = Math.min(need - this.have, from + count - offset);
      this.reserve(this.have + take);
      this.buf.set(data.subarray(offset * P, (offset + take) * P), this.have * P);
      this.have += take;
      offset += take;
      this.total += take;
      if (this.have === need) {
        out.push({ frames: this.buf, count: need, provenance: this.provenance(need) });
        const last = this.buf.subarray((need - 1) * P, need * P);
        this.buf = new Uint8Array(Math.min(need, 64) * P);
        this.buf.set(last);
        this.first += need - 1;
        this.have = 1;
      }
    }
    return out;
  }

  /** The remainder clip, if long enough; throws E_VIDEO_INVALID when the stream gave under two frames. */
  end(fps: number, file: string): FrameClip[] {
    if (this.total < 2) throw new TrajforgeError('E_VIDEO_INVALID', `${this.src.name}: ${this.total} frame(s) at ${fps} fps; at least 2 are needed to label a step`, { file });
    return this.have - 1 >= this.minLength ? [{ frames: this.buf.subarray(0, this.have * this.P), count: this.have, provenance: this.provenance(this.have) }] : [];
  }

  private provenance(count: number): EpisodeProvenance {
    const s = this.src;
    return { file: s.name, fromFrame: this.first, toFrame: this.first + count - 1, sourceFps: s.fps, sourceWidth: s.width, sourceHeight: s.height };
  }
}

/**
 * A source's frames as clips (EpisodeSplitter), resampled to the target while decoded. A file of
 * segments is decoded once at its own rate and cut at the segments' frames, each segment split
 * on its own; `events` hears of each segment read whole or skipped.
 */
async function* clipsOf(src: Source, target: { width: number; height: number; fps: number; fit: Fit }, episodeLength: number, minLength: number, events: SourceEvents): AsyncGenerator<FrameClip> {
  const P = target.width * target.height * 3;
  const segments = src.segments ?? [{ name: src.name, first: 0, count: Infinity }];
  const video = openResampled(src.file, {
    width: target.width,
    height: target.height,
    fit: target.fit,
    // Segments index the file's own frames (its rate is the environment's: see lerobotSources).
    fps: src.segments ? null : target.fps,
    ...(src.start !== undefined ? { start: src.start } : {}),
    ...(src.frames !== undefined ? { frames: src.frames } : {}),
  });
  let k = 0;
  let splitter = new EpisodeSplitter({ ...src, name: segments[0]!.name }, P, episodeLength + 1, minLength);
  const finish = function* (): Generator<FrameClip> {
    const seg = segments[k]!;
    try {
      yield* splitter.end(target.fps, src.file);
      events.done(seg.name, splitter.total);
    } catch (e) {
      if (!(e instanceof TrajforgeError && e.code === 'E_VIDEO_INVALID')) throw e;
      events.skipped(seg.name, e);
    }
    k++;
    if (k < segments.length) splitter = new EpisodeSplitter({ ...src, name: segments[k]!.name }, P, episodeLength + 1, minLength);
  };
  try {
    for await (const chunk of video) {
      let at = 0;
      while (at < chunk.count && k < segments.length) {
        const frame = chunk.first + at;
        const seg = segments[k]!;
        if (frame < seg.first) {
          at += Math.min(chunk.count - at, seg.first - frame);
          continue;
        }
        const take = Math.min(chunk.count - at, seg.first + seg.count - frame);
        yield* splitter.push(chunk.data, at, take);
        at += take;
        if (frame + take >= seg.first + seg.count) yield* finish();
      }
      if (k >= segments.length) break;
    }
  } catch (e) {
    // A file that probed well but cannot be decoded: every segment still open is skipped.
    if (!(e instanceof TrajforgeError && e.code === 'E_VIDEO_INVALID')) throw e;
    while (k < segments.length) {
      events.skipped(segments[k]!.name, e);
      k++;
    }
    return;
  }
  // Segments the file ended before (a stream shorter than its episodes table says) end here.
  while (k < segments.length) yield* finish();
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
