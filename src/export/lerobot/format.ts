import { join } from 'node:path';
import type { Channel } from '../../render/renderer.js';
import { CODECS } from '../../video/ffmpeg.js';
import { extraFeatures } from '../../dataset/extras.js';
import type { ColumnDef, ParquetDtype } from '../../dataset/parquet.js';
import type { DatasetMeta } from '../../dataset/meta.js';

/**
 * LeRobotDataset v3.0 layout facts (see ../shared/specs/formats.md): feature declarations,
 * path templates, rollover thresholds.
 */
export const CODEBASE_VERSION = 'v3.0';
export const DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';
export const VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';

export interface Feature {
  dtype: string;
  shape: number[];
  names: string[] | null;
  info?: Record<string, unknown>;
}

export function dataPath(chunk: number, file: number): string {
  return `data/chunk-${pad3(chunk)}/file-${pad3(file)}.parquet`;
}
export function videoPath(key: string, chunk: number, file: number): string {
  return `videos/${key}/chunk-${pad3(chunk)}/file-${pad3(file)}.mp4`;
}
export function episodesPath(chunk: number, file: number): string {
  return `meta/episodes/chunk-${pad3(chunk)}/file-${pad3(file)}.parquet`;
}
function pad3(n: number): string {
  return String(n).padStart(3, '0');
}

/** (chunk, file) of the n-th file of a kind: files roll over into a new chunk every chunksSize files. */
export function fileAddress(n: number, chunksSize = DEFAULT_LAYOUT.chunksSize): [chunk: number, file: number] {
  return [Math.floor(n / chunksSize), n % chunksSize];
}

import { DEFAULT_LAYOUT } from '../../dataset/meta.js';

export { DEFAULT_LAYOUT, type Layout } from '../../dataset/meta.js';

export const videoKey = (camera: string) => `observation.images.${camera}`;
/** Non-rgb channels are stored losslessly as flat 1-D numeric features (row-major H x W x C). */
export const auxKey = (camera: string, channel: Channel) => `observation.${channel}.${camera}`;
const AUX: Record<Exclude<Channel, 'rgb'>, { dtype: ParquetDtype; channels: number; unit: string }> = {
  depth: { dtype: 'float32', channels: 1, unit: 'metres of z-depth; +inf where nothing is hit' },
  segmentation: { dtype: 'uint16', channels: 1, unit: 'body id (meta/trajforge.json body_names[id-1]); 0 = background' },
  flow: { dtype: 'float32', channels: 2, unit: 'pixels (du, dv) to the next frame' },
  normals: { dtype: 'float32', channels: 3, unit: 'world-space unit normal (x, y, z); 0 on background' },
};

export interface AuxColumn {
  key: string;
  camera: string;
  channel: Exclude<Channel, 'rgb'>;
  dtype: ParquetDtype;
  /** Values per frame. */
  size: number;
}

export function auxColumns(meta: DatasetMeta): AuxColumn[] {
  return meta.cameras.flatMap((c) =>
    c.channels
      .filter((ch): ch is Exclude<Channel, 'rgb'> => ch !== 'rgb')
      .map((ch) => ({ key: auxKey(c.name, ch), camera: c.name, channel: ch, dtype: AUX[ch].dtype, size: c.width * c.height * AUX[ch].channels })),
  );
}

export function videoCameras(meta: DatasetMeta) {
  return meta.cameras.filter((c) => c.channels.includes('rgb'));
}

/** info.json `features`, in column order (video features last, as they are not in the parquet). */
export function lerobotFeatures(meta: DatasetMeta): Record<string, Feature> {
  const f: Record<string, Feature> = {};
  f['observation.state'] = { dtype: 'float32', shape: [meta.observationNames.length], names: meta.observationNames };
  f.action = meta.discrete ? { dtype: 'int64', shape: [1], names: ['choice'] } : { dtype: 'float32', shape: [meta.actionNames.length], names: meta.actionNames };
  f['next.reward'] = { dtype: 'float32', shape: [1], names: null };
  f['next.done'] = { dtype: 'bool', shape: [1], names: null };
  f['next.terminated'] = { dtype: 'bool', shape: [1], names: null };
  f['next.truncated'] = { dtype: 'bool', shape: [1], names: null };
  f['next.success'] = { dtype: 'bool', shape: [1], names: null };
  for (const a of auxColumns(meta)) {
    const cam = meta.cameras.find((c) => c.name === a.camera)!;
    f[a.key] = {
      dtype: a.dtype,
      shape: [a.size],
      names: null,
      info: { layout: 'row-major height x width x channels', height: cam.height, width: cam.width, channels: AUX[a.channel].channels, unit: AUX[a.channel].unit },
    };
  }
  // Extra float features (e.g. a world model's observation.latent): plain float32 vectors like
  // observation.state (shape [1] becomes a scalar column, as LeRobot expects).
  for (const x of extraFeatures(meta, [...Object.keys(f), ...RESERVED, ...videoCameras(meta).map((c) => videoKey(c.name))])) f[x.key] = { dtype: 'float32', shape: [x.dim], names: x.names ?? null };
  f.timestamp = { dtype: 'float32', shape: [1], names: null };
  f.frame_index = { dtype: 'int64', shape: [1], names: null };
  f.episode_index = { dtype: 'int64', shape: [1], names: null };
  f.index = { dtype: 'int64', shape: [1], names: null };
  f.task_index = { dtype: 'int64', shape: [1], names: null };
  for (const c of videoCameras(meta)) {
    const codec = CODECS[meta.run.codec];
    f[videoKey(c.name)] = {
      dtype: 'video',
      shape: [c.height, c.width, 3],
      names: ['height', 'width', 'channels'],
      info: {
        'video.height': c.height,
        'video.width': c.width,
        'video.codec': codec.codec,
        'video.pix_fmt': codec.pixFmt,
        'video.is_depth_map': false,
        'video.fps': meta.fps,
        'video.channels': 3,
        'video.g': meta.run.gop,
        'video.lossless': codec.lossless,
        has_audio: false,
      },
    };
  }
  return f;
}

/** Parquet columns of the data files: every non-video feature, scalars for shape [1]. */
export function dataColumns(features: Record<string, Feature>): ColumnDef[] {
  return Object.entries(features)
    .filter(([, f]) => f.dtype !== 'video')
    .map(([name, f]) => ({ name, dtype: f.dtype as ParquetDtype, form: f.shape.length === 1 && f.shape[0] === 1 ? 'scalar' : 'list' }));
}

/** Small numeric features whose per-episode stats go into meta/episodes (stats/<feature>/<stat>). */
export const EPISODE_STATS_FEATURES = ['observation.state', 'action', 'next.reward', 'timestamp', 'frame_index', 'episode_index', 'index', 'task_index'];

/** Names an extra feature may not take: the automatic columns and the camera features. */
const RESERVED = ['timestamp', 'frame_index', 'episode_index', 'index', 'task_index'];

/** The features with per-episode stats: the fixed ones present, then the extra features (stats like observation.state). */
export function episodeStatFeatures(meta: DatasetMeta, features: Record<string, Feature>): string[] {
  return [...EPISODE_STATS_FEATURES.filter((f) => f in features), ...(meta.extraFeatures ?? []).map((x) => x.key).filter((k) => k in features)];
}

/**
 * An episode's sidecar arrays (in the current layout under `episode_NNNNNN/` in the few files of
 * extras-files.ts; this path is the older layout's one file per episode, still read):
 * `final/<camera>.<channel>` frames and `final_obs` of
 * the last observation (and `final_extra/<key>` of each extra feature that has a final value);
 * `body/<id>/{positions, quaternions, velocities, angular_velocities}` and
 * `camera/<name>/{positions, quaternions, K, world_to_camera}` per frame (float64, T + 1 rows).
 */
export function episodeExtrasPath(dir: string, episode: number): string {
  return join(dir, 'meta', 'trajforge_episodes', `${episodeKey(episode)}.npz`);
}

/** `episode_NNNNNN`: how an episode's sidecar arrays are named (a file, or a prefix in a shared one). */
export function episodeKey(episode: number): string {
  return `episode_${String(episode).padStart(6, '0')}`;
}
