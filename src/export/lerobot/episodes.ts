import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TrajforgeError } from '../../core/errors.js';
import type { Channel } from '../../render/renderer.js';
import type { ChannelFrames, EpisodeData } from '../../dataset/episode.js';
import { FrameStream } from '../../video/decode.js';
import { auxKey, DEFAULT_LAYOUT, videoKey } from './format.js';
import { ExtrasReader } from './extras-files.js';
import { dataFiles, episodeVideoFile, readEpisodesMeta, readInfo, readJson, readJsonLines, columnsWithout, RowCursor, type LeRobotInfo, type Row } from './reader.js';
import { sourceFromJson, type sourceJson } from '../../dataset/extras.js';
import { z } from 'zod';
import type { DatasetMeta } from '../../dataset/meta.js';

/**
 * Reads a trajforge LeRobot dataset back into episodes (for `trajforge convert`): rows from the
 * parquet, rgb frames decoded from the videos (exact for the lossless codec), the final
 * observation and its frames from the trajforge sidecar, so T + 1 formats get everything.
 */
/** meta/trajforge.json: what trajforge records beside a LeRobot dataset. */
export interface TrajforgeSidecar {
  env_id: string;
  config_hash: string;
  config: DatasetMeta['config'];
  run: DatasetMeta['run'];
  fps: number;
  instruction: string;
  observation_names: string[];
  action_names: string[];
  discrete: boolean;
  cameras: DatasetMeta['cameras'];
  body_names: string[];
  episodes_file: string;
  /** Extra per-step float features (absent when there are none). */
  extra_features?: { key: string; dim: number; names?: string[]; model_id?: string }[];
  /** Provenance (absent: simulated). */
  source?: ReturnType<typeof sourceJson>;
  /** A merge of runs with different settings (DatasetMeta.origins). */
  origins?: DatasetMeta['origins'];
}

export function metaFromSidecar(side: TrajforgeSidecar): DatasetMeta {
  return {
    envId: side.env_id,
    config: side.config,
    configHash: side.config_hash,
    instruction: side.instruction,
    fps: side.fps,
    observationNames: side.observation_names,
    actionNames: side.action_names,
    discrete: side.discrete,
    cameras: side.cameras,
    bodyNames: side.body_names,
    ...(side.extra_features?.length ? { extraFeatures: side.extra_features.map((x) => ({ key: x.key, dim: x.dim, ...(x.names ? { names: x.names } : {}), ...(typeof x.model_id === 'string' ? { modelId: x.model_id } : {}) })) } : {}),
    ...(side.source ? { source: sourceFromJson(side.source)! } : {}),
    ...(side.origins ? { origins: side.origins } : {}),
    run: side.run,
  };
}

const sidecarSchema = z.looseObject({
  env_id: z.string(),
  config_hash: z.string(),
  fps: z.number().positive(),
  observation_names: z.array(z.string()),
  action_names: z.array(z.string()),
  discrete: z.boolean(),
  cameras: z.array(z.looseObject({ name: z.string(), width: z.number().int().positive(), height: z.number().int().positive(), channels: z.array(z.string()) })),
  body_names: z.array(z.string()),
  extra_features: z.array(z.looseObject({ key: z.string(), dim: z.number().int().positive() })).optional(),
});

/** meta/trajforge.json, checked: readers index arrays by these fields, so a damaged sidecar is named here. */
export function datasetMeta(dir: string): DatasetMeta {
  const file = join(dir, 'meta', 'trajforge.json');
  if (!existsSync(file)) {
    throw new TrajforgeError('E_DATASET_INVALID', `${dir}: not written by trajforge (no meta/trajforge.json)`, {
      file,
      hint: "this command needs the environment trajforge records beside its datasets; another tool's LeRobot dataset is read by view, validate and inspect, converted by convert, learned from by train, eval, predict and bc, and labelled by label; `trajforge convert DATASET --to lerobot --out NEW` writes a copy with trajforge's record, which encode and merge take",
    });
  }
  const side = readJson<TrajforgeSidecar>(file);
  const parsed = sidecarSchema.safeParse(side);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TrajforgeError('E_DATASET_INVALID', `${file}: ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}; regenerate the dataset or restore the file`, { file });
  }
  return metaFromSidecar(side);
}

/** A reader's unexpected failure on damaged data becomes an error naming the dataset, not a stack. */
function datasetError(dir: string, e: unknown): unknown {
  if (e instanceof TrajforgeError) return e;
  return new TrajforgeError('E_DATASET_INVALID', `${dir}: cannot read the dataset (${(e as Error).message}); run \`trajforge validate ${dir}\` to find the damaged file`, { file: dir });
}

/** A value of a row's list column, checked against the width the metadata declares (a one-wide feature is a scalar column, see format.ts). */
function rowValues(row: Row, key: string, width: number, where: () => string): ArrayLike<number> {
  const v = row[key];
  if (width === 1 && typeof v === 'number') return [v];
  if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<number>).length !== width) {
    throw new TrajforgeError('E_DATASET_INVALID', `${where()}: column ${key} has ${Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<number>).length : 'no list of'} values, meta/trajforge.json declares ${width}`);
  }
  return v as ArrayLike<number>;
}

export async function* readLeRobotEpisodes(dir: string, options: { channels?: readonly Channel[] } = {}): AsyncGenerator<EpisodeData> {
  try {
    yield* readEpisodes(dir, options);
  } catch (e) {
    throw datasetError(dir, e);
  }
}

async function* readEpisodes(dir: string, options: { channels?: readonly Channel[] }): AsyncGenerator<EpisodeData> {
  const info = readInfo(dir);
  const all = datasetMeta(dir);
  // Only the requested channels (all by default): a world model reads rgb only, and skipping the
  // depth/segmentation list columns is most of the parquet decoding.
  const keep = options.channels;
  const meta = keep ? { ...all, cameras: all.cameras.map((c) => ({ ...c, channels: c.channels.filter((ch) => keep.includes(ch as Channel)) })) } : all;
  const skipped = new Set(keep ? all.cameras.flatMap((c) => (c.channels as Channel[]).filter((ch) => ch !== 'rgb' && !keep.includes(ch)).map((ch) => auxKey(c.name, ch))) : []);
  const sidecarFile = join(dir, 'meta', 'trajforge_episodes.jsonl');
  const sidecar = readJsonLines(sidecarFile);
  const extrasReader = new ExtrasReader(dir, all.run?.layout?.chunksSize ?? DEFAULT_LAYOUT.chunksSize);
  const episodes = await readEpisodesMeta(dir);
  const cursor = new RowCursor(dataFiles(dir), dir, columnsWithout(skipped));
  const videos = new VideoStreams(dir, info);
  try {
    for (const [e, em] of episodes.entries()) {
      const side = sidecar[e] as { source_episode?: unknown; seed?: unknown; bodies?: unknown; collisions?: EpisodeData['collisions']; provenance?: Record<string, unknown> } | undefined;
      if (!side || !Array.isArray(side.bodies)) throw new TrajforgeError('E_DATASET_INVALID', `${sidecarFile}: no line for episode ${e} with its bodies (meta/episodes lists ${episodes.length} episodes)`, { file: sidecarFile });
      const T = Number(em.length);
      const r = await cursor.take(Number(em.dataset_from_index), T);
      const D = meta.observationNames.length;
      const A = meta.discrete ? 1 : meta.actionNames.length;
      const obs = new Float32Array(T * D);
      const actions = new Float32Array(T * A);
      const where = () => `${cursor.currentFile} (episode ${e})`;
      r.forEach((row, t) => {
        obs.set(rowValues(row, 'observation.state', D, where), t * D);
        if (meta.discrete) actions[t] = Number(row.action);
        else actions.set(rowValues(row, 'action', A, where), t * A);
      });
      const frames: ChannelFrames[] = [];
      const finalFrames: ChannelFrames[] = [];
      const extras = extrasReader.episode(e, sidecar[e]);
      const nums = (k: string) => Array.from(extras.get(k).data as Float64Array);
      for (const cam of meta.cameras) {
        for (const ch of cam.channels as Channel[]) {
          const final = extras.get(`final/${cam.name}.${ch}`);
          finalFrames.push({ camera: cam.name, channel: ch, width: cam.width, height: cam.height, data: final.data as Uint8Array });
          if (ch === 'rgb') {
            const data = await videos.frames(videoKey(cam.name), em, cam.width * cam.height * 3, T);
            frames.push({ camera: cam.name, channel: ch, width: cam.width, height: cam.height, data });
          } else {
            const col = auxKey(cam.name, ch);
            const per = (final.data as Uint8Array).length;
            const data = ch === 'segmentation' ? new Uint16Array(T * per) : new Float32Array(T * per);
            r.forEach((row, t) => data.set(rowValues(row, col, per, where), t * per));
            frames.push({ camera: cam.name, channel: ch, width: cam.width, height: cam.height, data });
          }
        }
      }
      // Extra features from their columns (scalars when dim is 1), final values from the npz sidecar.
      const extraList = (meta.extraFeatures ?? []).map((x) => {
        const data = new Float32Array(T * x.dim);
        r.forEach((row, t) => {
          const v = row[x.key];
          if (x.dim === 1 && !Array.isArray(v) && !ArrayBuffer.isView(v)) data[t] = Number(v);
          else data.set(rowValues(row, x.key, x.dim, where), t * x.dim);
        });
        const final = extras.has(`final_extra/${x.key}`) ? extras.get(`final_extra/${x.key}`) : undefined;
        return { key: x.key, dim: x.dim, ...(x.names ? { names: x.names } : {}), data, ...(final ? { final: Float32Array.from(final.data as Float32Array) } : {}) };
      });
      const p = side.provenance;
      yield {
        ...(extraList.length ? { extras: extraList } : {}),
        ...(p ? { provenance: { file: String(p.file), fromFrame: Number(p.from_frame), toFrame: Number(p.to_frame), sourceFps: Number(p.source_fps), sourceWidth: Number(p.source_width), sourceHeight: Number(p.source_height) } } : {}),
        episode: Number(side.source_episode),
        seed: Number(side.seed),
        length: T,
        obsDim: D,
        actionDim: A,
        discrete: meta.discrete,
        obs,
        actions,
        rewards: Float32Array.from(r, (row) => Number(row['next.reward'])),
        terminated: Uint8Array.from(r, (row) => (row['next.terminated'] ? 1 : 0)),
        truncated: Uint8Array.from(r, (row) => (row['next.truncated'] ? 1 : 0)),
        success: Uint8Array.from(r, (row) => (row['next.success'] ? 1 : 0)),
        frames,
        finalObs: Float32Array.from(extras.get('final_obs').data as Float32Array),
        finalFrames,
        // Labelled episodes come from videos of unknown cameras: they carry no tracks.
        cameras: meta.cameras.filter((c) => extras.has(`camera/${c.name}/K`)).map((c) => ({
          name: c.name,
          K: rows3(nums(`camera/${c.name}/K`), 3),
          worldToCamera: rows3(nums(`camera/${c.name}/world_to_camera`), 4),
          positions: nums(`camera/${c.name}/positions`),
          quaternions: nums(`camera/${c.name}/quaternions`),
        })),
        bodies: (side.bodies as EpisodeData['bodies']).map((b) => ({
          ...b,
          positions: nums(`body/${b.id}/positions`),
          quaternions: nums(`body/${b.id}/quaternions`),
          velocities: nums(`body/${b.id}/velocities`),
          angularVelocities: nums(`body/${b.id}/angular_velocities`),
        })),
        collisions: side.collisions ?? [],
        simSeconds: 0,
        renderSeconds: 0,
      };
    }
  } finally {
    videos.close();
  }
}

function rows3(xs: number[], cols: number): number[][] {
  return Array.from({ length: xs.length / cols }, (_, i) => xs.slice(i * cols, i * cols + cols));
}

/**
 * Streaming decoders by video key: episodes follow each other through a file, so one ffmpeg per
 * file serves them all; another file or a jump back starts a new decoder there.
 */
export class VideoStreams {
  private readonly streams = new Map<string, FrameStream>();

  /** `info`: the dataset's meta/info.json (its fps, and the video_path that names each episode's file). */
  constructor(
    private readonly dir: string,
    private readonly info: Pick<LeRobotInfo, 'fps' | 'video_path'>,
  ) {}

  /** `count` rgb frames of `key`'s video for an episode-meta row. */
  async frames(key: string, em: Record<string, unknown>, frameBytes: number, count: number): Promise<Uint8Array> {
    const file = episodeVideoFile(this.dir, this.info, key, em);
    const fps = this.info.fps;
    const from = Math.round(Number(em[`videos/${key}/from_timestamp`]) * fps);
    let stream = this.streams.get(key);
    if (!stream || stream.file !== file || stream.position > from) {
      stream?.close();
      if (!existsSync(file)) throw new TrajforgeError('E_DATASET_INVALID', `${file} is missing: the dataset's episodes index names it for ${key}; restore it from where the dataset came from`, { file });
      stream = new FrameStream(file, frameBytes, from, fps);
      this.streams.set(key, stream);
    }
    try {
      return await stream.read(from, count);
    } catch (e) {
      // A file that ffmpeg runs on but that ends early or does not decode is the dataset's damage.
      if (!(e instanceof TrajforgeError) || e.code !== 'E_FFMPEG_FAILED' || e.details.file !== file) throw e;
      throw new TrajforgeError('E_DATASET_INVALID', `${file} does not hold the frames its episodes index names for ${key} (frames ${from} to ${from + count - 1}): it is damaged or truncated; restore it (${e.message})`, { file });
    }
  }

  close(): void {
    for (const s of this.streams.values()) s.close();
    this.streams.clear();
  }
}

/** One episode's rgb frames of one camera: `length` frames (H × W × 3 each) and the final observation's frame. */
export interface CameraEpisodeFrames {
  /** Episode index in the dataset. */
  episode: number;
  length: number;
  width: number;
  height: number;
  frames: Uint8Array;
  final: Uint8Array;
}

/**
 * The rgb frames of one camera, episode by episode in dataset order, without the rest of the
 * episode (rows, tracks), through the same streaming decoders as readLeRobotEpisodes, so memory
 * stays at one episode. The final frame comes from the sidecar.
 */
export async function* readLeRobotCameraFrames(dir: string, camera: string): AsyncGenerator<CameraEpisodeFrames> {
  try {
    yield* readCameraFrames(dir, camera);
  } catch (e) {
    throw datasetError(dir, e);
  }
}

async function* readCameraFrames(dir: string, camera: string): AsyncGenerator<CameraEpisodeFrames> {
  const info = readInfo(dir);
  const cam = datasetMeta(dir).cameras.find((c) => c.name === camera && c.channels.includes('rgb'));
  if (!cam) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: no rgb camera '${camera}'`);
  const key = videoKey(camera);
  const frameBytes = cam.width * cam.height * 3;
  const videos = new VideoStreams(dir, info);
  const lines = readJsonLines(join(dir, 'meta', 'trajforge_episodes.jsonl'));
  const extrasReader = new ExtrasReader(dir, datasetMeta(dir).run?.layout?.chunksSize ?? DEFAULT_LAYOUT.chunksSize);
  try {
    for (const [e, em] of (await readEpisodesMeta(dir)).entries()) {
      const T = Number(em.length);
      const frames = await videos.frames(key, em, frameBytes, T);
      const final = extrasReader.episode(e, lines[e]).finalRgb(camera, frameBytes);
      yield { episode: e, length: T, width: cam.width, height: cam.height, frames, final };
    }
  } finally {
    videos.close();
  }
}
