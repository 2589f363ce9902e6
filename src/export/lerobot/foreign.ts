/**
 * LeRobot datasets written by other tools (v3, and v2.x with one file per episode; no trajforge
 * sidecar): what LeRobot itself defines is read (observation.state, action, next.reward /
 * next.done / next.success when present, the tasks and every video feature as rgb frames); what
 * only trajforge records (seeds, the final observation, body and camera tracks) is left empty.
 */
import { basename, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { TrajforgeError } from '../../core/errors.js';
import type { ChannelFrames, EpisodeData } from '../../dataset/episode.js';
import { VideoStreams } from './episodes.js';
import type { Feature } from './format.js';
import { columnsWithout, dataFiles, readEpisodesMeta, readInfo, readJsonLines, readParquetRows, RowCursor, type LeRobotInfo, type Row } from './reader.js';
import { decodePngRgb } from '../../render/png.js';

export interface ForeignCamera {
  /** The feature's key, e.g. observation.images.top. */
  key: string;
  /** `video`: frames in the dataset's mp4 files; `image`: one PNG per row in the data parquet (HF's Image struct {bytes, path}). */
  stored: 'video' | 'image';
  /** The key without its `observation.images.` prefix. */
  name: string;
  width: number;
  height: number;
}

export interface ForeignLayout {
  info: LeRobotInfo;
  /** A name per entry of observation.state (its declared names, else state_0, state_1, ...). */
  observationNames: string[];
  actionNames: string[];
  cameras: ForeignCamera[];
  /** The first task's text ('' when meta/tasks.parquet is absent). */
  instruction: string;
}

/** Names of a vector feature: a list, LeRobot's {axes: [...]} form, or generated. */
function featureNames(f: Feature | undefined, fallback: string): string[] {
  if (!f) return [];
  const size = Number(f.shape?.[0] ?? 1);
  return declaredNames(f, size) ?? Array.from({ length: size }, (_, i) => `${fallback}_${i}`);
}

/** The `size` names a feature declares, as a list or in LeRobot's {axes: [...]} form; null when it declares none that fit. */
export function declaredNames(f: Feature, size: number): string[] | null {
  const names = f.names as unknown;
  const list = Array.isArray(names) ? names : names && typeof names === 'object' ? Object.values(names as Record<string, unknown>).find(Array.isArray) : undefined;
  return Array.isArray(list) && list.length === size && list.every((n) => typeof n === 'string') ? (list as string[]) : null;
}

/** Height and width of a video or image feature: shape in the order its names give (LeRobot writes [height, width, channels]). */
function videoSize(key: string, f: Feature): { width: number; height: number } {
  const shape = (f.shape ?? []).map(Number);
  const names = Array.isArray(f.names) ? (f.names as unknown[]).map(String) : ['height', 'width', 'channels'];
  const h = shape[names.indexOf('height')];
  const w = shape[names.indexOf('width')];
  if (!(h! > 0 && w! > 0)) throw new TrajforgeError('E_DATASET_INVALID', `meta/info.json: ${f.dtype} feature ${key} has shape ${JSON.stringify(f.shape)} and names ${JSON.stringify(f.names)}; expected [height, width, channels]`);
  return { width: w!, height: h! };
}

export async function foreignLayout(dir: string): Promise<ForeignLayout> {
  const info = readInfo(dir);
  const features = info.features;
  const cameras = Object.entries(features)
    .filter(([, f]) => f.dtype === 'video' || f.dtype === 'image')
    .map(([key, f]) => ({ key, stored: f.dtype as ForeignCamera['stored'], name: key.replace(/^observation\.images\./, ''), ...videoSize(key, f) }));
  let instruction = '';
  // meta/tasks.parquet (v3), or meta/tasks.jsonl (LeRobot v2.x).
  const tasks = join(dir, 'meta', 'tasks.parquet');
  const taskLines = join(dir, 'meta', 'tasks.jsonl');
  const rows = existsSync(tasks) ? await readParquetRows(tasks) : existsSync(taskLines) ? readJsonLines(taskLines) : [];
  const first = rows.find((r) => Number(r.task_index) === 0) ?? rows[0];
  instruction = String(first?.task ?? first?.__index_level_0__ ?? '');
  return { info, observationNames: featureNames(features['observation.state'], 'state'), actionNames: featureNames(features.action, 'action'), cameras, instruction: instruction || basename(dir) };
}

/** The episodes of a foreign LeRobot v3 dataset, in order: rows from the data files, rgb frames decoded from the videos. */
export async function* readForeignEpisodes(dir: string, layout: ForeignLayout, withFrames: boolean): AsyncGenerator<EpisodeData> {
  const D = layout.observationNames.length;
  const A = layout.actionNames.length;
  // Image columns are read only when their frames are wanted: they are most of a data file.
  const images = new Set(layout.cameras.filter((c) => c.stored === 'image').map((c) => c.key));
  const rows = new RowCursor(dataFiles(dir), dir, columnsWithout(withFrames ? new Set() : images), { binary: images.size > 0 });
  const videos = new VideoStreams(dir, layout.info);
  const vector = (row: Row, key: string, width: number, e: number): ArrayLike<number> => {
    const v = row[key];
    const values = Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<number>) : [Number(v)];
    if (values.length !== width) throw new TrajforgeError('E_DATASET_INVALID', `${rows.currentFile} (episode ${e}): column ${key} has ${values.length} values, meta/info.json declares ${width}`);
    return values;
  };
  try {
    for (const em of await readEpisodesMeta(dir)) {
      const e = Number(em.episode_index);
      const T = Number(em.length);
      const r = await rows.take(Number(em.dataset_from_index), T);
      const obs = new Float32Array(T * D);
      const actions = new Float32Array(T * A);
      r.forEach((row, t) => {
        if (D > 0) obs.set(vector(row, 'observation.state', D, e), t * D);
        if (A > 0) actions.set(vector(row, 'action', A, e), t * A);
      });
      const frames: ChannelFrames[] = [];
      for (const cam of withFrames ? layout.cameras : []) {
        const data = cam.stored === 'video' ? await videos.frames(cam.key, em, cam.width * cam.height * 3, T) : imageFrames(dir, rows.currentFile, cam, r, e);
        frames.push({ camera: cam.name, channel: 'rgb', width: cam.width, height: cam.height, data });
      }
      const flag = (key: string) => Uint8Array.from(r, (row) => (row[key] ? 1 : 0));
      yield {
        episode: e,
        seed: -1,
        length: T,
        obsDim: D,
        actionDim: A,
        discrete: false,
        obs,
        actions,
        rewards: Float32Array.from(r, (row) => Number(row['next.reward'] ?? 0)),
        terminated: flag('next.done'),
        truncated: new Uint8Array(T),
        success: flag('next.success'),
        frames,
        finalObs: new Float32Array(0),
        finalFrames: [],
        cameras: [],
        bodies: [],
        collisions: [],
        simSeconds: 0,
        renderSeconds: 0,
      };
    }
  } finally {
    videos.close();
  }
}

/**
 * An image feature's frames of one episode: each row's PNG decoded to rgb at the size info.json
 * declares (see imageCellRgb).
 */
function imageFrames(dir: string, file: string, cam: ForeignCamera, rows: readonly Row[], episode: number): Uint8Array {
  const size = cam.width * cam.height * 3;
  const out = new Uint8Array(rows.length * size);
  rows.forEach((row, t) => out.set(imageCellRgb(dir, row[cam.key], { where: `${file} (episode ${episode}, frame ${t}): column ${cam.key}`, file }, cam), t * size));
  return out;
}

/**
 * One cell of an image feature (HF's Image struct: its PNG `bytes`, or the file its `path` names,
 * relative to the dataset) as rgb of the declared size; a coded error naming `at.where` otherwise.
 * The cell must have been read with binary columns as bytes (readParquetRows' `binary`).
 */
export function imageCellRgb(dir: string, cell: unknown, at: { where: string; file: string }, size: { width: number; height: number }): Uint8Array {
  const v = cell as { bytes?: unknown; path?: unknown } | null | undefined;
  let bytes: Uint8Array | null = v?.bytes instanceof Uint8Array ? v.bytes : null;
  if (!bytes && typeof v?.path === 'string' && v.path !== '' && existsSync(join(dir, v.path))) bytes = new Uint8Array(readFileSync(join(dir, v.path)));
  if (!bytes) throw new TrajforgeError('E_DATASET_INVALID', `${at.where} holds no image bytes (nor a path to an image file in the dataset)`, { file: at.file });
  let image: ReturnType<typeof decodePngRgb>;
  try {
    image = decodePngRgb(bytes);
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `${at.where} is not a PNG image trajforge can read (${(e as Error).message}); LeRobot writes PNG`, { file: at.file });
  }
  if (image.width !== size.width || image.height !== size.height) {
    throw new TrajforgeError('E_DATASET_INVALID', `${at.where} is ${image.width}x${image.height}; meta/info.json declares ${size.width}x${size.height}`, { file: at.file });
  }
  return image.data;
}
