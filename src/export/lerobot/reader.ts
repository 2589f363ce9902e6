import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
// Every codec parquet files use (ZSTD: ours and many tools'; GZIP, Brotli, LZ4), not only snappy.
import { compressors } from 'hyparquet-compressors';
import { readJson } from '../../dataset/json.js';
import { TrajforgeError } from '../../core/errors.js';
import { frameTimestamps } from '../../video/ffmpeg.js';
import { dataPath, videoPath, type Feature } from './format.js';
import { readNpz, type NpyArray } from '../../dataset/npz.js';
import { isPlainObject } from '../../core/json.js';

/** Reading LeRobot v3 datasets (ours or anyone's) for validate, inspect and merge. */
export interface LeRobotInfo {
  codebase_version: string;
  fps: number;
  total_episodes: number;
  total_frames: number;
  total_tasks: number;
  chunks_size: number;
  data_path: string;
  video_path: string | null;
  features: Record<string, Feature>;
  [k: string]: unknown;
}

export type Row = Record<string, unknown>;

export { readJson };

/** The most values one row's feature may hold: four channels of the largest camera an environment may declare (4096x4096). */
const MAX_FEATURE_VALUES = 4096 * 4096 * 4;

/** meta/info.json with the fields every reader relies on checked, each failure naming the file and field. */
export function readInfo(dir: string): LeRobotInfo {
  const file = join(dir, 'meta', 'info.json');
  if (!existsSync(file)) throw new TrajforgeError('E_DATASET_INVALID', `${dir} is not a LeRobot dataset (no meta/info.json)`, { file });
  const info = readJson<LeRobotInfo>(file);
  const bad = (field: string, expected: string, found: unknown) =>
    new TrajforgeError('E_DATASET_INVALID', `${file}: ${field}: expected ${expected}, found ${JSON.stringify(found) ?? String(found)}; regenerate the dataset or repair the file`, { file });
  if (!isPlainObject(info)) throw bad('(root)', 'an object', info);
  for (const k of ['fps', 'total_episodes', 'total_frames', 'total_tasks'] as const) {
    if (!Number.isInteger(info[k]) || info[k] < 0) throw bad(k, 'a non-negative integer', info[k]);
  }
  if (info.fps === 0) throw bad('fps', 'a positive integer', info.fps);
  // v2.0 / v2.1 (a file per episode) and v3.x (chunked files) are the layouts read here; another
  // version would be read as one of them and come out wrong.
  if (!/^v(2\.[01]|3\.\d+)$/.test(String(info.codebase_version))) throw bad('codebase_version', 'a LeRobot version trajforge reads ("v2.0", "v2.1" or "v3.x")', info.codebase_version);
  if (!isPlainObject(info.features)) throw bad('features', 'an object of feature declarations', info.features);
  for (const [k, f] of Object.entries(info.features)) {
    if (f === null || typeof f !== 'object' || typeof f.dtype !== 'string') throw bad(`features.${k}`, 'an object with a dtype', f);
    if (f.dtype !== 'video' && (!Array.isArray(f.shape) || !f.shape.every((d) => Number.isInteger(d) && d >= 0))) throw bad(`features.${k}.shape`, 'a list of non-negative integers', f.shape);
    // Readers size their buffers by the shape: one that no row could hold is damage, not data.
    if (f.dtype !== 'video' && f.shape.reduce((n, d) => n * d, 1) > MAX_FEATURE_VALUES) throw bad(`features.${k}.shape`, `at most ${MAX_FEATURE_VALUES} values a row (a 4096x4096x4 image)`, f.shape);
  }
  return info;
}

function toArrayBuffer(file: string): ArrayBuffer {
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Runs a parquet decoder on one file; a damaged file (truncated, garbled) becomes an error naming it. */
async function parquet<T>(file: string, read: (buffer: ArrayBuffer) => T | Promise<T>): Promise<T> {
  const buffer = toArrayBuffer(file);
  try {
    return await read(buffer);
  } catch (e) {
    if (e instanceof TrajforgeError) throw e;
    throw unreadableParquet(file, e);
  }
}

function unreadableParquet(file: string, e: unknown): TrajforgeError {
  return new TrajforgeError('E_DATASET_INVALID', `${file}: not a readable parquet file (${(e as Error).message}); it is damaged or truncated: regenerate the dataset or restore the file`, { file });
}

/** Every row of a parquet file as an object; `columns` limits which are decoded (default: all). */
export async function readParquetRows(file: string, columns?: readonly string[], options: { binary?: boolean } = {}): Promise<Row[]> {
  // `binary`: byte-array columns without a string annotation (an image's PNG bytes) stay bytes
  // instead of being decoded as UTF-8 text, which would corrupt them.
  return parquet(file, async (buffer) => (await parquetReadObjects({ file: buffer, compressors, ...(columns ? { columns: [...columns] } : {}), ...(options.binary ? { utf8: false } : {}) })) as Row[]);
}

/** The footer metadata of a parquet file. */
export function readParquetMetadata(file: string): ReturnType<typeof parquetMetadata> {
  const buffer = toArrayBuffer(file);
  try {
    return parquetMetadata(buffer);
  } catch (e) {
    throw unreadableParquet(file, e);
  }
}

/**
 * The footer metadata of a parquet file read from its ends only (leading magic, footer), so a
 * structural check of large data files costs a few kilobytes of I/O each.
 */
export function readParquetFooter(file: string): ReturnType<typeof parquetMetadata> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 12) throw unreadableParquet(file, new Error(`${size} bytes, too short`));
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    if (head.toString('latin1') !== 'PAR1') throw unreadableParquet(file, new Error('header != PAR1'));
    const tail = Buffer.alloc(8);
    readSync(fd, tail, 0, 8, size - 8);
    const length = tail.readUInt32LE(0);
    if (tail.toString('latin1', 4) !== 'PAR1' || length > size - 12) return readParquetMetadata(file);
    const footer = Buffer.alloc(length + 8);
    readSync(fd, footer, 0, length + 8, size - 8 - length);
    try {
      return parquetMetadata(footer.buffer.slice(footer.byteOffset, footer.byteOffset + footer.byteLength) as ArrayBuffer);
    } catch (e) {
      throw unreadableParquet(file, e);
    }
  } finally {
    closeSync(fd);
  }
}

/** JSON Lines, each line an object; a bad line is named by file and line number. */
export function readJsonLines(file: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  return text.split('\n').flatMap((line, i) => {
    if (!line) return [];
    try {
      const v = JSON.parse(line) as unknown;
      if (!isPlainObject(v)) throw new Error('not an object');
      return [v as Record<string, unknown>];
    } catch (e) {
      throw new TrajforgeError('E_DATASET_INVALID', `${file}:${i + 1}: not a JSON object (${(e as Error).message}); it is damaged: regenerate the dataset or restore the file`, { file });
    }
  });
}

/** An npz file's arrays; a missing or damaged file (truncated, not a zip, bad npy header) is named. */
export function readNpzFile(file: string): Record<string, NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(e as Error).message})`;
    throw new TrajforgeError('E_DATASET_INVALID', `${file} ${why}; restore the file or regenerate the dataset`, { file });
  }
  try {
    return readNpz(bytes);
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `${file}: not a readable npz archive (${(e as Error).message}); it is damaged or truncated: regenerate the dataset or restore the file`, { file });
  }
}

/** Column names and physical/logical types, as parquet declares them. */
export function readParquetColumns(file: string): { name: string; type: string; list: boolean }[] {
  const meta = readParquetMetadata(file);
  let tree: ReturnType<typeof parquetSchema>;
  try {
    tree = parquetSchema(meta);
  } catch (e) {
    throw unreadableParquet(file, e);
  }
  return tree.children.map((c) => {
    const list = c.element.converted_type === 'LIST';
    let leaf = c;
    while (leaf.children.length > 0) leaf = leaf.children[0]!;
    const type = leaf.element.converted_type === 'UINT_16' ? 'uint16' : String(leaf.element.type);
    return { name: c.element.name, type, list };
  });
}

/**
 * Data files in the order LeRobot concatenates them: sorted data/*\/*.parquet (v3), or for a
 * LeRobot v2.x dataset each episode's file in episode order, named by info.json's data_path (a
 * missing file is then an error naming it, not another episode's rows).
 */
export function dataFiles(dir: string): string[] {
  const legacy = legacyEpisodes(dir);
  if (legacy) return legacy.episodes.map((e) => join(dir, formatPathTemplate(legacy.info.data_path, { episode_chunk: e.chunk, episode_index: e.index }, 'data_path', dir)));
  const root = join(dir, 'data');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .flatMap((chunk) => (statSync(join(root, chunk)).isDirectory() ? readdirSync(join(root, chunk)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(root, chunk, f)) : []));
}

export function episodesFiles(dir: string): string[] {
  const root = join(dir, 'meta', 'episodes');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .flatMap((chunk) => readdirSync(join(root, chunk)).filter((f) => f.endsWith('.parquet')).sort().map((f) => join(root, chunk, f)));
}

/**
 * meta/episodes' rows in order. A LeRobot v2.x dataset's meta/episodes.jsonl is read into the
 * same columns: its data rows run back to back over its per-episode files, and each video key's
 * span is the whole of the episode's own file.
 */
export async function readEpisodesMeta(dir: string): Promise<Row[]> {
  const legacy = legacyEpisodes(dir);
  if (legacy) {
    const videoKeys = Object.keys(legacy.info.features).filter((k) => legacy.info.features[k]!.dtype === 'video');
    let from = 0;
    return legacy.episodes.map((e) => {
      const row: Row = { episode_index: e.index, tasks: e.tasks, length: e.length, 'data/chunk_index': e.chunk, 'data/file_index': e.index, dataset_from_index: from, dataset_to_index: from + e.length };
      for (const k of videoKeys) Object.assign(row, { [`videos/${k}/chunk_index`]: e.chunk, [`videos/${k}/file_index`]: e.index, [`videos/${k}/from_timestamp`]: 0, [`videos/${k}/to_timestamp`]: e.length / legacy.info.fps });
      from += e.length;
      return row;
    });
  }
  const rows: Row[] = [];
  for (const f of episodesFiles(dir)) rows.push(...(await readParquetRows(f)));
  if (rows.length === 0) {
    const info = readInfo(dir);
    if (info.total_episodes > 0) throw new TrajforgeError('E_DATASET_INVALID', `${join(dir, 'meta', 'episodes')} holds no episodes, but meta/info.json counts ${info.total_episodes}: the episodes index is missing or emptied; restore it`, { file: join(dir, 'meta', 'episodes') });
  }
  return rows;
}

const n = (v: unknown) => Number(v);

/**
 * Every invariant of the format we can check, each violation named. Returns [] for a valid dataset.
 * `deep` also reads every video's frame timestamps (ffmpeg) and checks each episode's frames.
 */
export async function validateLeRobot(dir: string, opts: { deep?: boolean; onEpisode?: (done: number, total: number) => void } = {}): Promise<string[]> {
  const problems: string[] = [];
  try {
    return await checkLeRobot(dir, problems, opts);
  } catch (e) {
    // A file that cannot be read at all ends the check: it is the last problem, named.
    if (!(e instanceof TrajforgeError)) throw e;
    return [...problems, e.message];
  }
}

async function checkLeRobot(dir: string, problems: string[], opts: { deep?: boolean; onEpisode?: (done: number, total: number) => void }): Promise<string[]> {
  const bad = (msg: string) => problems.push(msg);
  const info = readInfo(dir);
  if (legacyEpisodes(dir)) {
    // What LeRobot v0.4 and later load is v3.0; they refuse v2.x (BackwardCompatibilityError).
    bad(`meta/info.json: codebase_version is ${JSON.stringify(info.codebase_version)}: a LeRobot v2.x dataset (one file per episode), which LeRobot v0.4 and later do not load; trajforge reads it (inspect, view, train, eval, predict, bc, label) but validates v3.0 only: convert it with LeRobot's convert_dataset_v21_to_v30`);
    return problems;
  }
  if (info.codebase_version !== 'v3.0') bad(`meta/info.json: codebase_version is ${JSON.stringify(info.codebase_version)}, expected "v3.0"`);
  if (!Number.isInteger(info.fps) || info.fps <= 0) bad(`meta/info.json: fps must be a positive integer, found ${info.fps}`);
  if (!info.features || typeof info.features !== 'object') return [...problems, 'meta/info.json: no features'];
  for (const k of ['timestamp', 'frame_index', 'episode_index', 'index', 'task_index']) if (!(k in info.features)) bad(`meta/info.json: feature ${k} missing`);
  for (const [k, f] of Object.entries(info.features)) {
    if (k.includes('/')) bad(`feature ${k}: names may not contain '/'`);
    if (typeof f.dtype !== 'string') bad(`feature ${k}: no dtype`);
    if (f.dtype !== 'video' && (!Array.isArray(f.shape) || f.shape.length === 0)) bad(`feature ${k}: no shape`);
  }
  const videoKeys = Object.entries(info.features).filter(([, f]) => f.dtype === 'video').map(([k]) => k);
  const columnFeatures = Object.entries(info.features).filter(([, f]) => f.dtype !== 'video');

  // tasks
  const tasksFile = join(dir, 'meta', 'tasks.parquet');
  if (!existsSync(tasksFile)) bad('meta/tasks.parquet missing');
  else {
    const tasks = await readParquetRows(tasksFile);
    if (tasks.length !== info.total_tasks) bad(`meta/tasks.parquet: ${tasks.length} rows, info.total_tasks is ${info.total_tasks}`);
    tasks.forEach((t, i) => {
      if (n(t.task_index) !== i) bad(`meta/tasks.parquet row ${i}: task_index ${String(t.task_index)}`);
    });
    const kv = readParquetMetadata(tasksFile).key_value_metadata ?? [];
    const pandas = kv.find((e) => e.key === 'pandas');
    if (!pandas || !JSON.stringify(JSON.parse(pandas.value ?? '{}').index_columns ?? []).includes('task')) bad('meta/tasks.parquet: pandas metadata must make "task" the index');
  }

  // episodes
  const episodes = await readEpisodesMeta(dir);
  if (episodes.length !== info.total_episodes) bad(`meta/episodes: ${episodes.length} rows, info.total_episodes is ${info.total_episodes}`);
  let expectFrom = 0;
  episodes.forEach((e, i) => {
    if (n(e.episode_index) !== i) bad(`meta/episodes row ${i}: episode_index ${String(e.episode_index)} (must be ${i})`);
    const from = n(e.dataset_from_index);
    const to = n(e.dataset_to_index);
    if (from !== expectFrom) bad(`episode ${i}: dataset_from_index ${from}, expected ${expectFrom} (indices must be contiguous)`);
    if (to - from !== n(e.length)) bad(`episode ${i}: dataset_to_index - dataset_from_index = ${to - from} but length is ${String(e.length)}`);
    expectFrom = to;
    const df = join(dir, dataPath(n(e['data/chunk_index']), n(e['data/file_index'])));
    if (!existsSync(df)) bad(`episode ${i}: data file ${relative(dir, df)} missing`);
    for (const k of videoKeys) {
      const vf = join(dir, videoPath(k, n(e[`videos/${k}/chunk_index`]), n(e[`videos/${k}/file_index`])));
      if (!existsSync(vf)) bad(`episode ${i}: video ${relative(dir, vf)} missing`);
      const span = n(e[`videos/${k}/to_timestamp`]) - n(e[`videos/${k}/from_timestamp`]);
      if (Math.abs(span - n(e.length) / info.fps) > 1e-6) bad(`episode ${i} ${k}: to_timestamp - from_timestamp = ${span}, expected length/fps = ${n(e.length) / info.fps}`);
    }
  });
  if (expectFrom !== info.total_frames) bad(`episodes cover ${expectFrom} frames, info.total_frames is ${info.total_frames}`);

  // data rows
  let row = 0;
  for (const file of dataFiles(dir)) {
    const rel = relative(dir, file);
    const cols = readParquetColumns(file);
    const names = cols.map((c) => c.name);
    for (const c of names) if (!(c in info.features) || info.features[c]!.dtype === 'video') bad(`${rel}: column ${c} is not a declared non-video feature (LeRobot's loader rejects it)`);
    for (const [k, f] of columnFeatures) {
      const col = cols.find((c) => c.name === k);
      if (!col) {
        bad(`${rel}: feature ${k} has no column`);
        continue;
      }
      const scalar = f.shape.length === 1 && f.shape[0] === 1;
      if (scalar === col.list) bad(`${rel}: column ${k} is ${col.list ? 'a list' : 'a scalar'} but shape is ${JSON.stringify(f.shape)}`);
      const want = ({ float32: 'FLOAT', float64: 'DOUBLE', int64: 'INT64', bool: 'BOOLEAN', uint16: 'uint16', int32: 'INT32' } as Record<string, string>)[f.dtype];
      if (want && col.type !== want) bad(`${rel}: column ${k} is ${col.type}, dtype ${f.dtype} needs ${want}`);
    }
    const rows = await readParquetRows(file);
    const present = columnFeatures.filter(([k]) => names.includes(k));
    const reported = new Set<string>();
    for (const r of rows) {
      if (n(r.index) !== row) {
        bad(`${rel}: row with index ${String(r.index)} at position ${row} (index must equal the row position)`);
        break;
      }
      const ep = episodes[n(r.episode_index)];
      if (!ep) bad(`${rel}: row ${row} has episode_index ${String(r.episode_index)} with no episode`);
      else {
        const fi = n(r.frame_index);
        if (fi !== row - n(ep.dataset_from_index)) bad(`${rel}: row ${row} frame_index ${fi}, expected ${row - n(ep.dataset_from_index)}`);
        if (Math.fround(fi / info.fps) !== n(r.timestamp)) bad(`${rel}: row ${row} timestamp ${String(r.timestamp)}, expected frame_index/fps = ${Math.fround(fi / info.fps)}`);
      }
      if (!(n(r.task_index) >= 0 && n(r.task_index) < info.total_tasks)) bad(`${rel}: row ${row} task_index ${String(r.task_index)} out of range`);
      for (const [k, f] of present) {
        const v = r[k];
        if (!reported.has(k) && f.shape.length === 1 && f.shape[0]! > 1 && (!isList(v) || (v as ArrayLike<unknown>).length !== f.shape[0])) {
          bad(`${rel}: row ${row} ${k} has ${isList(v) ? (v as ArrayLike<unknown>).length : 'no'} values, shape says ${f.shape[0]}`);
          reported.add(k);
        }
      }
      row++;
      if (problems.length > 50) return [...problems, '... (stopped after 50 problems)'];
    }
  }
  if (row !== info.total_frames) bad(`data files hold ${row} rows, info.total_frames is ${info.total_frames}`);

  // stats
  const statsFile = join(dir, 'meta', 'stats.json');
  const stats = existsSync(statsFile) ? readJson<unknown>(statsFile) : undefined;
  if (stats === undefined) bad('meta/stats.json missing');
  else if (!isPlainObject(stats)) bad(`meta/stats.json: expected an object of per-feature stats, found ${stats === null ? 'null' : Array.isArray(stats) ? 'an array' : typeof stats}`);
  else {
    for (const [k, f] of Object.entries(info.features)) {
      const s = stats[k];
      if (!isPlainObject(s)) {
        bad(`meta/stats.json: no stats for ${k}`);
        continue;
      }
      for (const key of ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99']) if (!(key in s)) bad(`meta/stats.json: ${k} lacks ${key}`);
      if (!Array.isArray(s.count) || s.count.length !== 1) bad(`meta/stats.json: ${k}.count must have shape [1]`);
      if (f.dtype === 'video' || f.dtype === 'image') {
        const mean = s.mean as number[][][];
        if (!Array.isArray(mean) || mean.length !== 3 || !mean.every((c) => Array.isArray(c) && c.length === 1 && Array.isArray(c[0]) && c[0].length === 1)) bad(`meta/stats.json: ${k}.mean must have shape (3, 1, 1)`);
        else if (mean.flat(2).some((x) => !(x >= 0 && x <= 1))) bad(`meta/stats.json: ${k}.mean must lie in [0, 1]`);
      }
    }
  }

  // video timestamps: every episode's frames at from_timestamp + i/fps within 1e-4 s
  if (opts.deep) {
    const cache = new Map<string, number[]>();
    opts.onEpisode?.(0, episodes.length);
    for (const [i, e] of episodes.entries()) {
      for (const k of videoKeys) {
        const vf = join(dir, videoPath(k, n(e[`videos/${k}/chunk_index`]), n(e[`videos/${k}/file_index`])));
        if (!existsSync(vf)) continue;
        if (!cache.has(vf)) cache.set(vf, await frameTimestamps(vf));
        const pts = cache.get(vf)!;
        const from = n(e[`videos/${k}/from_timestamp`]);
        for (let t = 0; t < n(e.length); t++) {
          const q = from + t / info.fps;
          const k0 = Math.round(q * info.fps);
          if (!(Math.abs((pts[k0] ?? Infinity) - q) <= 1e-4)) {
            bad(`episode ${i} ${k}: no frame within 1e-4 s of ${q.toFixed(6)} s in ${relative(dir, vf)}`);
            break;
          }
        }
      }
      opts.onEpisode?.(i + 1, episodes.length);
    }
  }
  return problems;
}

function isList(v: unknown): boolean {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

/** RowCursor's `columns`: every column of a data file but `skipped` (all, read as they come, when none is skipped). */
export function columnsWithout(skipped: ReadonlySet<string>): (file: string) => string[] | undefined {
  return (file) => (skipped.size > 0 ? readParquetColumns(file).map((c) => c.name).filter((c) => !skipped.has(c)) : undefined);
}

/** Sequential access to the rows of a dataset's data files, one file in memory at a time. */
export class RowCursor {
  private file = -1;
  private rows: Row[] = [];
  private start = 0;
  /** `columns(file)`: the columns to read of a file (all when it returns undefined). */
  constructor(
    private readonly files: string[],
    private readonly dir: string,
    private readonly columns: (file: string) => readonly string[] | undefined = () => undefined,
    private readonly options: { binary?: boolean } = {},
  ) {}
  /** The data file the last row taken came from (the dataset folder before the first take). */
  get currentFile(): string {
    return this.files[this.file] ?? this.dir;
  }

  async take(from: number, count: number): Promise<Row[]> {
    const out: Row[] = [];
    while (out.length < count) {
      const want = from + out.length;
      while (want >= this.start + this.rows.length) {
        this.start += this.rows.length;
        this.file++;
        if (this.file >= this.files.length) {
          const last = this.files.length > 0 ? `${relative(this.dir, this.files[this.files.length - 1]!)}, the last data file,` : 'data/ (no data files)';
          throw new TrajforgeError('E_DATASET_INVALID', `${this.dir}: ${last} ends at row ${this.start}, but meta/episodes needs row ${want}; a data file is missing or truncated: regenerate the dataset or restore it`, { file: this.dir });
        }
        const file = this.files[this.file]!;
        this.rows = await readParquetRows(file, this.columns(file), this.options);
      }
      out.push(this.rows[want - this.start]!);
    }
    return out;
  }
}

/** One episode of a LeRobot v2.x dataset, from meta/episodes.jsonl. */
interface LegacyEpisode {
  index: number;
  length: number;
  tasks: unknown[];
  /** info.json's chunks_size episodes to a chunk. */
  chunk: number;
}

/**
 * A LeRobot v2.x dataset's info and episodes (one data file and one video per episode, JSON-lines
 * metadata: LeRobot up to v0.3), or null for any other dataset. Read, never written.
 */
function legacyEpisodes(dir: string): { info: LeRobotInfo; episodes: LegacyEpisode[] } | null {
  const file = join(dir, 'meta', 'episodes.jsonl');
  if (!existsSync(join(dir, 'meta', 'info.json')) || !existsSync(file) || episodesFiles(dir).length > 0) return null;
  const info = readInfo(dir);
  if (!/^v2\./.test(String(info.codebase_version))) return null;
  const per = Number.isInteger(info.chunks_size) && info.chunks_size > 0 ? info.chunks_size : 1000;
  const episodes = readJsonLines(file).map((e, i): LegacyEpisode => {
    const index = Number(e.episode_index);
    const length = Number(e.length);
    if (!Number.isInteger(index) || index < 0 || !Number.isInteger(length) || length < 0) {
      throw new TrajforgeError('E_DATASET_INVALID', `${file}:${i + 1}: expected non-negative integers episode_index and length, found ${JSON.stringify(e.episode_index)} and ${JSON.stringify(e.length)}; repair the line or restore the file`, { file });
    }
    return { index, length, tasks: Array.isArray(e.tasks) ? e.tasks : [], chunk: Math.floor(index / per) };
  });
  episodes.sort((a, b) => a.index - b.index);
  return { info, episodes };
}

/**
 * A path template of info.json (data_path, video_path: Python format fields such as
 * {episode_index:06d}) filled in; a field it does not know, or a path leaving the dataset, is an
 * error naming the template.
 */
export function formatPathTemplate(template: unknown, values: Record<string, string | number>, field: string, dir: string): string {
  const file = join(dir, 'meta', 'info.json');
  if (typeof template !== 'string' || template === '') throw new TrajforgeError('E_DATASET_INVALID', `${file}: ${field} is ${JSON.stringify(template ?? null)}; expected a path template such as "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"`, { file });
  const path = template.replace(/\{(\w+)(?::0?(\d+)d)?\}/g, (whole, name: string, width?: string) => {
    const v = values[name];
    if (v === undefined) throw new TrajforgeError('E_DATASET_INVALID', `${file}: ${field} ${JSON.stringify(template)} uses {${name}}, which trajforge does not know (it fills ${Object.keys(values).join(', ')})`, { file });
    return width === undefined ? String(v) : String(v).padStart(Number(width), '0');
  });
  const rel = relative(dir, join(dir, path));
  if (rel.startsWith('..') || isAbsolute(path)) throw new TrajforgeError('E_DATASET_INVALID', `${file}: ${field} ${JSON.stringify(template)} leads outside the dataset (${path})`, { file });
  return path;
}

/**
 * The video file of `key` for an episode's meta/episodes row: info.json's video_path filled in
 * (v3: the row's chunk and file index; v2.x: the episode's chunk and index), or LeRobot v3's
 * layout where info.json gives no template.
 */
export function episodeVideoFile(dir: string, info: Pick<LeRobotInfo, 'video_path'>, key: string, em: Row): string {
  const chunk = Number(em[`videos/${key}/chunk_index`] ?? 0);
  const file = Number(em[`videos/${key}/file_index`] ?? 0);
  if (info.video_path === null || info.video_path === undefined) return join(dir, videoPath(key, chunk, file));
  return join(dir, formatPathTemplate(info.video_path, { video_key: key, chunk_index: chunk, file_index: file, episode_chunk: chunk, episode_index: Number(em.episode_index ?? file) }, 'video_path', dir));
}
