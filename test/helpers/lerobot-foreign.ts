/**
 * A LeRobot v3 dataset as another tool (LeRobot itself) writes it, built by hand: no trajforge
 * sidecar, nullable parquet columns as pyarrow writes them, `observation.state` names in LeRobot's
 * {"motors": [...]} form, video features declared [height, width, channels] with LeRobot's `info`
 * block, both episodes of a camera concatenated in one mp4 (the second starting mid-file), the
 * per-episode stats columns of meta/episodes, meta/stats.json in LeRobot's shapes (images
 * (3, 1, 1)), and neither next.reward nor next.success. Videos are lossy as LeRobot's are: AV1
 * (libaom, LeRobot's codec family) for one camera, H.264 4:2:0 with ffmpeg's default B-frames
 * (an mp4 edit list) for the other.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { PNG } from 'pngjs';
import { parquetBytes, type ColumnDef } from '../../src/dataset/parquet.js';
import { ffmpegPath } from '../../src/video/ffmpeg.js';

export interface ForeignCameraSpec {
  name: string;
  width: number;
  height: number;
  codec: 'av1' | 'h264';
}

export interface ForeignFixture {
  dir: string;
  fps: number;
  lengths: number[];
  cameras: ForeignCameraSpec[];
  motors: string[];
  /** Per episode, T × 6 state values and T × 6 actions (row-major), as written. */
  state: number[][];
  action: number[][];
  tasks: string[];
}

export const FOREIGN_MOTORS = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper'];

/** The synthetic picture of global frame k: a gradient and a square that moves one step per frame. */
export function foreignFrame(width: number, height: number, k: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const sx = (k * 3) % (width - 8);
  const sy = (k * 2) % (height - 8);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x >= sx && x < sx + 8 && y >= sy && y < sy + 8;
      out[i] = inSquare ? 240 : (x * 4) & 255;
      out[i + 1] = inSquare ? 30 : (y * 5) & 255;
      out[i + 2] = inSquare ? 40 : (k * 13) & 255;
    }
  }
  return out;
}

/** Frames first .. first + frames - 1 of the synthetic picture sequence as one video file. */
function encode(file: string, cam: ForeignCameraSpec, fps: number, frames: number, first = 0): void {
  const raw = Buffer.concat(Array.from({ length: frames }, (_, k) => foreignFrame(cam.width, cam.height, first + k)));
  const codec = cam.codec === 'av1' ? ['-c:v', 'libaom-av1', '-strict', 'experimental', '-cpu-used', '8', '-crf', '30', '-b:v', '0', '-g', '2', '-pix_fmt', 'yuv420p'] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', '4'];
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${cam.width}x${cam.height}`, '-r', String(fps), '-i', 'pipe:0', ...codec, file], { input: raw });
  if (r.status !== 0) throw new Error(`ffmpeg could not write the fixture video ${file}: ${r.stderr.toString()}`);
}

/** Every frame of a video file, rgb24, decoded from its start with no seeking (the independent reference). */
export function decodeAll(file: string): Buffer {
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1'], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${r.stderr.toString()}`);
  return r.stdout;
}

const opt = (name: string, dtype: ColumnDef['dtype'], form: ColumnDef['form'] = 'scalar'): ColumnDef => ({ name, dtype, form, nullable: true });

/** LeRobot's automatic columns, as info.json declares them. */
const INDEX_FEATURES = {
  timestamp: { dtype: 'float32', shape: [1], names: null },
  frame_index: { dtype: 'int64', shape: [1], names: null },
  episode_index: { dtype: 'int64', shape: [1], names: null },
  index: { dtype: 'int64', shape: [1], names: null },
  task_index: { dtype: 'int64', shape: [1], names: null },
};

/** The fixture's rate, episode lengths, cameras and tasks (the options' or the defaults). */
function fixtureShape(options: { lengths?: number[]; fps?: number; cameras?: ForeignCameraSpec[] }): { fps: number; lengths: number[]; cameras: ForeignCameraSpec[]; tasks: string[]; total: number } {
  const lengths = options.lengths ?? [7, 9];
  const cameras = options.cameras ?? [
    { name: 'front', width: 48, height: 32, codec: 'av1' },
    { name: 'wrist', width: 32, height: 24, codec: 'h264' },
  ];
  return { fps: options.fps ?? 10, lengths, cameras, tasks: ['Pick the cube and place it in the bin.', 'Wave.'], total: lengths.reduce((a, b) => a + b, 0) };
}

/**
 * Episode e's T rows appended to the data columns (global index from `firstRow`): the synthetic
 * state and action of each step, and LeRobot's timestamp and index columns. Returns the episode's
 * state and action values, row-major.
 */
function appendEpisodeRows(cols: Record<string, unknown[]>, e: number, T: number, fps: number, firstRow: number, taskCount: number): { s: number[]; a: number[] } {
  const s: number[] = [];
  const a: number[] = [];
  for (let t = 0; t < T; t++) {
    const st = FOREIGN_MOTORS.map((_, j) => Math.fround(Math.sin(0.3 * t + j + e) * 40 + j));
    const ac = FOREIGN_MOTORS.map((_, j) => Math.fround(Math.cos(0.2 * t - j) * 10 + e));
    s.push(...st);
    a.push(...ac);
    cols['observation.state']!.push(st);
    cols.action!.push(ac);
    cols.timestamp!.push(Math.fround(t / fps));
    cols.frame_index!.push(BigInt(t));
    cols.episode_index!.push(BigInt(e));
    cols.index!.push(BigInt(firstRow + t));
    cols.task_index!.push(BigInt(e % taskCount));
  }
  return { s, a };
}

/**
 * `imageCameras`: cameras stored as LeRobot's `image` features (HF's Image struct {bytes: PNG,
 * path} in the data parquet, as `datasets` writes it); the data file is then written by Arrow and
 * parquet-wasm (the Rust writer) and the PNGs by pngjs, neither of which trajforge reads with.
 */
export function writeForeignDataset(dir: string, options: { lengths?: number[]; fps?: number; cameras?: ForeignCameraSpec[]; imageCameras?: { name: string; width: number; height: number }[]; omitEpisodeColumns?: string[]; version?: 'v3.0' | 'v2.1' } = {}): ForeignFixture {
  const imageCameras = options.imageCameras ?? [];
  if (options.version === 'v2.1') return writeV21Dataset(dir, options);
  const { fps, lengths, cameras, tasks, total } = fixtureShape(options);
  for (const d of ['meta/episodes/chunk-000', 'data/chunk-000', ...cameras.map((c) => `videos/observation.images.${c.name}/chunk-000`)]) mkdirSync(join(dir, d), { recursive: true });

  const infoBlock = (c: ForeignCameraSpec) => ({ 'video.height': c.height, 'video.width': c.width, 'video.codec': c.codec, 'video.pix_fmt': 'yuv420p', 'video.is_depth_map': false, 'video.fps': fps, 'video.channels': 3, has_audio: false });
  const info = {
    codebase_version: 'v3.0',
    robot_type: 'so100_follower',
    total_episodes: lengths.length,
    total_frames: total,
    total_tasks: tasks.length,
    chunks_size: 1000,
    data_files_size_in_mb: 100,
    video_files_size_in_mb: 500,
    fps,
    splits: { train: `0:${lengths.length}` },
    data_path: 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
    video_path: 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4',
    features: {
      action: { dtype: 'float32', shape: [6], names: { motors: FOREIGN_MOTORS } },
      'observation.state': { dtype: 'float32', shape: [6], names: { motors: FOREIGN_MOTORS } },
      ...Object.fromEntries(cameras.map((c) => [`observation.images.${c.name}`, { dtype: 'video', shape: [c.height, c.width, 3], names: ['height', 'width', 'channels'], info: infoBlock(c) }])),
      ...Object.fromEntries(imageCameras.map((c) => [`observation.images.${c.name}`, { dtype: 'image', shape: [c.height, c.width, 3], names: ['height', 'width', 'channel'] }])),
      ...INDEX_FEATURES,
    },
  };
  writeFileSync(join(dir, 'meta', 'info.json'), JSON.stringify(info, null, 4));

  // Data rows.
  const state: number[][] = [];
  const action: number[][] = [];
  const cols: Record<string, unknown[]> = { 'observation.state': [], action: [], timestamp: [], frame_index: [], episode_index: [], index: [], task_index: [] };
  let row = 0;
  lengths.forEach((T, e) => {
    const { s, a } = appendEpisodeRows(cols, e, T, fps, row, tasks.length);
    row += T;
    state.push(s);
    action.push(a);
  });
  const dataColumns: ColumnDef[] = [opt('observation.state', 'float32', 'list'), opt('action', 'float32', 'list'), opt('timestamp', 'float32'), opt('frame_index', 'int64'), opt('episode_index', 'int64'), opt('index', 'int64'), opt('task_index', 'int64')];
  const dataFile = join(dir, 'data', 'chunk-000', 'file-000.parquet');
  if (imageCameras.length === 0) writeFileSync(dataFile, parquetBytes({ columns: dataColumns, data: cols }, total, [{ key: 'huggingface', value: JSON.stringify({ info: { features: {} } }) }]));
  else writeFileSync(dataFile, arrowDataFile(cols, imageCameras, total));

  // One mp4 per camera holding every episode, back to back.
  for (const c of cameras) encode(join(dir, 'videos', `observation.images.${c.name}`, 'chunk-000', 'file-000.mp4'), c, fps, total);

  // meta/episodes with LeRobot's columns: tasks as a list, video spans, per-episode stats.
  const epCols: ColumnDef[] = [
    opt('episode_index', 'int64'),
    opt('tasks', 'string', 'list'),
    opt('length', 'int64'),
    opt('data/chunk_index', 'int64'),
    opt('data/file_index', 'int64'),
    opt('dataset_from_index', 'int64'),
    opt('dataset_to_index', 'int64'),
    ...cameras.flatMap((c) => {
      const k = `videos/observation.images.${c.name}`;
      return [opt(`${k}/chunk_index`, 'int64'), opt(`${k}/file_index`, 'int64'), opt(`${k}/from_timestamp`, 'float64'), opt(`${k}/to_timestamp`, 'float64')];
    }),
    opt('meta/episodes/chunk_index', 'int64'),
    opt('meta/episodes/file_index', 'int64'),
    opt('stats/action/min', 'float64', 'list'),
    opt('stats/action/max', 'float64', 'list'),
    opt('stats/action/count', 'int64', 'list'),
  ];
  const ep: Record<string, unknown[]> = Object.fromEntries(epCols.map((c) => [c.name, []]));
  let from = 0;
  lengths.forEach((T, e) => {
    ep.episode_index!.push(BigInt(e));
    ep.tasks!.push([tasks[e % tasks.length]]);
    ep.length!.push(BigInt(T));
    ep['data/chunk_index']!.push(0n);
    ep['data/file_index']!.push(0n);
    ep.dataset_from_index!.push(BigInt(from));
    ep.dataset_to_index!.push(BigInt(from + T));
    for (const c of cameras) {
      const k = `videos/observation.images.${c.name}`;
      ep[`${k}/chunk_index`]!.push(0n);
      ep[`${k}/file_index`]!.push(0n);
      ep[`${k}/from_timestamp`]!.push(from / fps);
      ep[`${k}/to_timestamp`]!.push((from + T) / fps);
    }
    ep['meta/episodes/chunk_index']!.push(0n);
    ep['meta/episodes/file_index']!.push(0n);
    const acts = action[e]!;
    ep['stats/action/min']!.push(FOREIGN_MOTORS.map((_, j) => Math.min(...acts.filter((_, i) => i % 6 === j))));
    ep['stats/action/max']!.push(FOREIGN_MOTORS.map((_, j) => Math.max(...acts.filter((_, i) => i % 6 === j))));
    ep['stats/action/count']!.push([BigInt(T)]);
    from += T;
  });
  const kept = epCols.filter((c) => !(options.omitEpisodeColumns ?? []).includes(c.name));
  writeFileSync(join(dir, 'meta', 'episodes', 'chunk-000', 'file-000.parquet'), parquetBytes({ columns: kept, data: ep }, lengths.length));

  // meta/tasks.parquet: pandas frame indexed by the task.
  const pandas = { index_columns: ['task'], column_indexes: [], columns: [{ name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null }], creator: { library: 'pyarrow', version: '19.0.0' }, pandas_version: '2.2.3' };
  writeFileSync(
    join(dir, 'meta', 'tasks.parquet'),
    parquetBytes({ columns: [opt('task_index', 'int64'), opt('task', 'string')], data: { task_index: tasks.map((_, i) => BigInt(i)), task: tasks } }, tasks.length, [{ key: 'pandas', value: JSON.stringify(pandas) }]),
  );

  // meta/stats.json as LeRobot aggregates it: vectors for vector features, (3, 1, 1) for images,
  // count as [N]; observation.state is left out so the viewer computes it.
  const column = (values: number[], j: number) => values.filter((_, i) => i % 6 === j);
  const allActions = action.flat();
  const stats: Record<string, unknown> = {
    action: {
      min: FOREIGN_MOTORS.map((_, j) => Math.min(...column(allActions, j))),
      max: FOREIGN_MOTORS.map((_, j) => Math.max(...column(allActions, j))),
      mean: FOREIGN_MOTORS.map((_, j) => column(allActions, j).reduce((a, b) => a + b, 0) / total),
      std: FOREIGN_MOTORS.map(() => 1),
      count: [total],
    },
    ...Object.fromEntries(cameras.map((c) => [`observation.images.${c.name}`, { min: [[[0]], [[0]], [[0]]], max: [[[1]], [[1]], [[1]]], mean: [[[0.4]], [[0.3]], [[0.2]]], std: [[[0.1]], [[0.1]], [[0.1]]], count: [total] }])),
    timestamp: { min: [0], max: [(Math.max(...lengths) - 1) / fps], mean: [0.4], std: [0.2], count: [total] },
  };
  writeFileSync(join(dir, 'meta', 'stats.json'), JSON.stringify(stats, null, 4));
  return { dir, fps, lengths, cameras, motors: FOREIGN_MOTORS, state, action, tasks };
}

/** The data parquet with image columns, written by Arrow + parquet-wasm, the PNGs by pngjs. */
function arrowDataFile(cols: Record<string, unknown[]>, imageCameras: { name: string; width: number; height: number }[], total: number): Uint8Array {
  const floats = (rows: unknown[]) => arrow.vectorFromArray(rows as number[][], new arrow.List(new arrow.Field('item', new arrow.Float32(), true)));
  const image = new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]);
  const png = (width: number, height: number, k: number): Uint8Array => {
    const rgb = foreignFrame(width, height, k);
    const p = new PNG({ width, height });
    for (let i = 0; i < width * height; i++) p.data.set([rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!, 255], i * 4);
    return new Uint8Array(PNG.sync.write(p, { colorType: 2 }));
  };
  const table = new arrow.Table({
    'observation.state': floats(cols['observation.state']!),
    action: floats(cols.action!),
    timestamp: arrow.vectorFromArray(cols.timestamp as number[], new arrow.Float32()),
    ...Object.fromEntries(['frame_index', 'episode_index', 'index', 'task_index'].map((k) => [k, arrow.vectorFromArray(cols[k] as bigint[], new arrow.Int64())])),
    ...Object.fromEntries(imageCameras.map((c) => [`observation.images.${c.name}`, arrow.vectorFromArray(Array.from({ length: total }, (_, k) => ({ bytes: png(c.width, c.height, k), path: null })), image)])),
  });
  return pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')));
}

/**
 * The same episodes as LeRobot v2.1 (LeRobot up to v0.3) writes them: one data parquet and one
 * mp4 per episode (each video starting at 0 s), JSON-lines metadata (episodes, tasks, per-episode
 * stats), info.json's v2.1 path templates; the pictures are the v3 fixture's, frame for frame.
 */
function writeV21Dataset(dir: string, options: { lengths?: number[]; fps?: number; cameras?: ForeignCameraSpec[] }): ForeignFixture {
  const { fps, lengths, cameras, tasks, total } = fixtureShape(options);
  for (const d of ['meta', 'data/chunk-000', ...cameras.map((c) => `videos/chunk-000/observation.images.${c.name}`)]) mkdirSync(join(dir, d), { recursive: true });
  const info = {
    codebase_version: 'v2.1',
    robot_type: 'so100',
    total_episodes: lengths.length,
    total_frames: total,
    total_tasks: tasks.length,
    total_videos: lengths.length * cameras.length,
    total_chunks: 1,
    chunks_size: 1000,
    fps,
    splits: { train: `0:${lengths.length}` },
    data_path: 'data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet',
    video_path: 'videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4',
    features: {
      action: { dtype: 'float32', shape: [6], names: FOREIGN_MOTORS },
      'observation.state': { dtype: 'float32', shape: [6], names: FOREIGN_MOTORS },
      ...Object.fromEntries(cameras.map((c) => [`observation.images.${c.name}`, { dtype: 'video', shape: [c.height, c.width, 3], names: ['height', 'width', 'channels'], info: { 'video.fps': fps, 'video.height': c.height, 'video.width': c.width, 'video.channels': 3, 'video.codec': c.codec, 'video.pix_fmt': 'yuv420p', 'video.is_depth_map': false, has_audio: false } }])),
      ...INDEX_FEATURES,
    },
  };
  writeFileSync(join(dir, 'meta', 'info.json'), JSON.stringify(info, null, 4));
  const state: number[][] = [];
  const action: number[][] = [];
  const dataColumns: ColumnDef[] = [opt('observation.state', 'float32', 'list'), opt('action', 'float32', 'list'), opt('timestamp', 'float32'), opt('frame_index', 'int64'), opt('episode_index', 'int64'), opt('index', 'int64'), opt('task_index', 'int64')];
  const episodeLines: string[] = [];
  const statLines: string[] = [];
  let row = 0;
  lengths.forEach((T, e) => {
    const cols: Record<string, unknown[]> = { 'observation.state': [], action: [], timestamp: [], frame_index: [], episode_index: [], index: [], task_index: [] };
    const { s, a } = appendEpisodeRows(cols, e, T, fps, row, tasks.length);
    state.push(s);
    action.push(a);
    const name = `episode_${String(e).padStart(6, '0')}`;
    writeFileSync(join(dir, 'data', 'chunk-000', `${name}.parquet`), parquetBytes({ columns: dataColumns, data: cols }, T));
    for (const c of cameras) encode(join(dir, 'videos', 'chunk-000', `observation.images.${c.name}`, `${name}.mp4`), c, fps, T, row);
    episodeLines.push(JSON.stringify({ episode_index: e, tasks: [tasks[e % tasks.length]], length: T }));
    statLines.push(JSON.stringify({ episode_index: e, stats: { action: { min: FOREIGN_MOTORS.map((_, j) => Math.min(...a.filter((_, i) => i % 6 === j))), max: FOREIGN_MOTORS.map((_, j) => Math.max(...a.filter((_, i) => i % 6 === j))), count: [T] } } }));
    row += T;
  });
  writeFileSync(join(dir, 'meta', 'episodes.jsonl'), episodeLines.join('\n') + '\n');
  writeFileSync(join(dir, 'meta', 'episodes_stats.jsonl'), statLines.join('\n') + '\n');
  writeFileSync(join(dir, 'meta', 'tasks.jsonl'), tasks.map((task, i) => JSON.stringify({ task_index: i, task })).join('\n') + '\n');
  return { dir, fps, lengths, cameras, motors: FOREIGN_MOTORS, state, action, tasks };
}
