/**
 * What the dataset viewer serves, read from any LeRobot v3 dataset (trajforge's or another
 * tool's): the summary (episode table, stats, sizes) from the metadata and the small columns,
 * one episode's time series, its decoded rgb frames and false-coloured aux channels. Opening
 * reads no video; frames are decoded on demand by the ffmpeg decoder every reader uses and kept
 * in a byte-bounded LRU cache, so scrubbing an episode already seen costs nothing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { TrajforgeError } from '../core/errors.js';
import { openDataset, type DatasetInfo } from '../dataset/open.js';
import { numericStats, QUANTILE_KEYS } from '../dataset/stats.js';
import { VideoStreams, datasetMeta } from '../export/lerobot/episodes.js';
import { ExtrasReader } from '../export/lerobot/extras-files.js';
import { auxKey, videoKey, type Feature } from '../export/lerobot/format.js';
import { dataFiles, readEpisodesMeta, readInfo, readJsonLines, type LeRobotInfo, type Row } from '../export/lerobot/reader.js';
import { depthToRgb, flowToRgb, normalsToRgb, segmentationToRgb } from '../render/colorize.js';
import { declaredNames, imageCellRgb } from '../export/lerobot/foreign.js';
import type { Channel } from '../render/renderer.js';

export type AuxChannel = Exclude<Channel, 'rgb'>;
const AUX_CHANNELS: readonly AuxChannel[] = ['depth', 'segmentation', 'flow', 'normals'];
/** Values per pixel of each aux channel as stored (see export/lerobot/format.ts). */
const AUX_COMPONENTS: Record<AuxChannel, number> = { depth: 1, segmentation: 1, flow: 2, normals: 3 };
/** Columns every LeRobot dataset has that index rows rather than describe the episode. */
const INDEX_COLUMNS = new Set(['timestamp', 'frame_index', 'episode_index', 'index', 'task_index']);
/** A feature is a plotted series when it has at most this many values per step (not an image column). */
export const MAX_SERIES_DIMS = 64;

export interface ViewCamera {
  name: string;
  /** The rgb feature's key (observation.images.<name>), or null when only aux channels are stored. */
  videoKey: string | null;
  /** Where the rgb frames are: the dataset's videos, or (another tool's `image` feature) a PNG per row of the data files. */
  stored: 'video' | 'image';
  width: number;
  height: number;
  /** The aux channels the dataset stores for this camera (drawn as false-colour overlays). */
  overlays: AuxChannel[];
}

export interface EpisodeRow {
  index: number;
  length: number;
  /** The simulator seed (null for another tool's dataset). */
  seed: number | null;
  /** null where the dataset records no success. */
  success: boolean | null;
  /** Sum of the rewards (null where the dataset records none). */
  return: number | null;
  task: string;
}

export interface FeatureStatsRow {
  feature: string;
  dtype: string;
  shape: number[];
  names: string[];
  /** `stats.json` when the dataset stores it, `computed` from the data columns otherwise. */
  origin: 'stats.json' | 'computed';
  count: number | null;
  stats: Record<string, number[]>;
  /** The stats have more values than are shown (image features): the first MAX_SERIES_DIMS are kept. */
  truncated: boolean;
}

export interface SeriesFeature {
  feature: string;
  group: 'state' | 'action' | 'reward' | 'other';
  names: string[];
}

export interface ViewSummary {
  dir: string;
  envId: string;
  writtenBy: DatasetInfo['writtenBy'];
  codebaseVersion: string;
  fps: number;
  instruction: string;
  source: string | null;
  episodes: EpisodeRow[];
  frames: number;
  cameras: ViewCamera[];
  features: { key: string; dtype: string; shape: number[] }[];
  series: SeriesFeature[];
  stats: FeatureStatsRow[];
  sizes: { total: number; data: number; videos: number; meta: number; other: number; perCamera: Record<string, number>; files: number };
  /** Whether a world model was given (the model panel is shown). */
  model: { id: string; camera: string; width: number; height: number } | null;
}

export interface EpisodeSeries {
  episode: number;
  length: number;
  fps: number;
  /** Per series feature, per dimension, one value per step (null where not finite). */
  columns: { feature: string; group: SeriesFeature['group']; names: string[]; values: (number | null)[][] }[];
}

/** A run of decoded frames as the cache holds them (one window of an episode). */
export interface FrameBlock {
  width: number;
  height: number;
  /** Frames in the block. */
  length: number;
  /** The block's frames, rgb24, row-major. */
  data: Uint8Array;
}

/** Frames [from, from + count) of an episode of `length` frames, rgb24, row-major. */
export interface FrameRange {
  width: number;
  height: number;
  /** Frames in the whole episode. */
  length: number;
  from: number;
  count: number;
  data: Uint8Array;
}

export interface ViewDataOptions {
  /** Bytes of decoded frames kept (default 512 MiB). */
  cacheBytes?: number;
  /** Bytes of frames one decode holds and one response carries at most (default 32 MiB, at most a quarter of cacheBytes). */
  windowBytes?: number;
}

export const DEFAULT_WINDOW_BYTES = 32 * 2 ** 20;

interface DataFile {
  file: string;
  start: number;
  rows: number;
  columns: string[];
  meta: FileMetaData;
}

/** A byte-bounded LRU of values loaded once each; a failed load is forgotten so it can be retried. */
export class ByteLru<T> {
  private readonly entries = new Map<string, { value: Promise<T>; bytes: number }>();
  private total = 0;

  constructor(
    private readonly budget: number,
    private readonly size: (value: T) => number,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const entry = { value: load(), bytes: 0 };
    this.entries.set(key, entry);
    entry.value.then(
      (v) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = this.size(v);
        this.total += entry.bytes;
        this.evict(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get bytes(): number {
    return this.total;
  }

  /** Drops least recently used entries until the budget holds (never the one just loaded). */
  private evict(keep: string): void {
    for (const [k, e] of this.entries) {
      if (this.total <= this.budget) break;
      if (k === keep || e.bytes === 0) continue;
      this.entries.delete(k);
      this.total -= e.bytes;
    }
  }
}

/** Runs at most `limit` tasks at once; the rest wait in order. */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** Decodes (ffmpeg processes, each holding up to a window of frames) running at once, however many requests arrive. */
export const MAX_DECODES = 2;

function datasetError(file: string, e: unknown): TrajforgeError {
  if (e instanceof TrajforgeError) return e;
  return new TrajforgeError('E_DATASET_INVALID', `${file}: cannot be read (${(e as Error).message}); it is damaged or truncated: run \`trajforge validate\` on the dataset, then regenerate it or restore the file`, { file });
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v));

/** Names of a vector feature: its declared list (or LeRobot's {axes: [...]} form), else <key>_<i>. */
function featureNames(key: string, f: Feature): string[] {
  const size = dims(f);
  return declaredNames(f, size) ?? (size === 1 ? [key] : Array.from({ length: size }, (_, i) => `${key}[${i}]`));
}

function dims(f: Feature): number {
  return Array.isArray(f.shape) ? f.shape.reduce((a, b) => a * Number(b), 1) : 1;
}

const NUMERIC = new Set(['float32', 'float64', 'float16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'bool']);

function groupOf(key: string): SeriesFeature['group'] {
  if (key === 'observation.state') return 'state';
  if (key === 'action') return 'action';
  if (key === 'next.reward') return 'reward';
  return 'other';
}

/** One opened dataset, read as the viewer needs it. */
export class ViewData {
  private readonly frameCache: ByteLru<FrameBlock>;
  private model: ViewSummary['model'] = null;
  private readonly windowBytes: number;
  private readonly decodes = new Limiter(MAX_DECODES);

  /** trajforge's per-episode sidecars, read on the first finalFrame (null: none readable). */
  private sidecars: { lines: Record<string, unknown>[]; reader: ExtrasReader } | null | undefined;

  private constructor(
    readonly dir: string,
    readonly info: DatasetInfo,
    readonly lerobot: LeRobotInfo,
    private readonly episodesMeta: Row[],
    private readonly files: DataFile[],
    readonly cameras: ViewCamera[],
    readonly series: SeriesFeature[],
    private readonly table: EpisodeRow[],
    options: ViewDataOptions,
  ) {
    const budget = options.cacheBytes ?? 512 * 2 ** 20;
    this.frameCache = new ByteLru(budget, (b) => b.data.byteLength);
    // Several windows fit in the cache, so scrubbing back and forth in one episode stays cached.
    this.windowBytes = Math.min(options.windowBytes ?? DEFAULT_WINDOW_BYTES, Math.floor(budget / 4));
  }

  /** Opens a LeRobot v3 folder; anything else is E_DATASET_INVALID naming what is wrong. */
  static async open(dir: string, options: ViewDataOptions = {}): Promise<ViewData> {
    const ds = await openDataset(dir);
    const info = ds.info;
    await ds.close();
    const root = info.dir;
    const lerobot = readInfo(root);
    const episodesMeta = await readEpisodesMeta(root);
    if (episodesMeta.length !== lerobot.total_episodes) {
      throw new TrajforgeError('E_DATASET_INVALID', `${join(root, 'meta', 'episodes')}: ${episodesMeta.length} episode rows, meta/info.json's total_episodes is ${lerobot.total_episodes}; run \`trajforge validate ${dir}\` to find the damaged file`, { file: root });
    }
    const files: DataFile[] = [];
    let start = 0;
    for (const file of dataFiles(root)) {
      try {
        const buffer = await asyncBufferFromFile(file);
        const meta = await parquetMetadataAsync(buffer);
        const rows = Number(meta.num_rows);
        files.push({ file, start, rows, columns: parquetSchema(meta).children.map((c) => c.element.name), meta });
        start += rows;
      } catch (e) {
        throw datasetError(file, e);
      }
    }
    for (const [i, em] of episodesMeta.entries()) {
      const to = num(em.dataset_to_index);
      if (!(to <= start)) throw new TrajforgeError('E_DATASET_INVALID', `${root}: episode ${i} ends at row ${to}, but the data files hold ${start} rows; a data file is missing or truncated: regenerate the dataset or restore it`, { file: root });
    }
    const features = lerobot.features;
    const cameras: ViewCamera[] = info.cameras.map((c) => {
      const video = info.writtenBy === 'trajforge' ? (c.channels.includes('rgb') ? videoKey(c.name) : null) : (Object.keys(features).find((k) => (features[k]!.dtype === 'video' || features[k]!.dtype === 'image') && k.replace(/^observation\.images\./, '') === c.name) ?? null);
      const stored = video !== null && features[video]?.dtype === 'image' ? ('image' as const) : ('video' as const);
      return { name: c.name, videoKey: video, stored, width: c.width, height: c.height, overlays: AUX_CHANNELS.filter((ch) => auxKey(c.name, ch) in features) };
    });
    const auxKeys = new Set(cameras.flatMap((c) => c.overlays.map((ch) => auxKey(c.name, ch))));
    const series: SeriesFeature[] = Object.entries(features)
      .filter(([k, f]) => NUMERIC.has(f.dtype) && !INDEX_COLUMNS.has(k) && !auxKeys.has(k) && dims(f) <= MAX_SERIES_DIMS)
      .map(([k, f]) => ({ feature: k, group: groupOf(k), names: featureNames(k, f) }))
      .sort((a, b) => ['state', 'action', 'reward', 'other'].indexOf(a.group) - ['state', 'action', 'reward', 'other'].indexOf(b.group));
    const view = new ViewData(root, info, lerobot, episodesMeta, files, cameras, series, [], options);
    view.table.push(...(await view.episodeTable()));
    return view;
  }

  setModel(model: ViewSummary['model']): void {
    this.model = model;
  }

  get episodeCount(): number {
    return this.episodesMeta.length;
  }

  /** The episode's row in meta/episodes; E_USAGE when out of range. */
  episodeMeta(index: number): Row {
    if (!Number.isInteger(index) || index < 0 || index >= this.episodesMeta.length) {
      throw new TrajforgeError('E_USAGE', `episode ${index} is out of range: the dataset has ${this.episodesMeta.length} episode(s) (0..${this.episodesMeta.length - 1})`);
    }
    return this.episodesMeta[index]!;
  }

  camera(name: string): ViewCamera {
    const cam = this.cameras.find((c) => c.name === name);
    if (!cam) throw new TrajforgeError('E_USAGE', `no camera '${name.slice(0, 60)}' in the dataset (cameras: ${this.cameras.map((c) => c.name).join(', ') || 'none'})`);
    return cam;
  }

  /** Rows [from, from + count) of the data files (global row indices), only `columns`. */
  async rows(from: number, count: number, columns: string[], options: { binary?: boolean } = {}): Promise<Row[]> {
    const out: Row[] = [];
    for (const f of this.files) {
      const lo = Math.max(from, f.start);
      const hi = Math.min(from + count, f.start + f.rows);
      if (lo >= hi) continue;
      const present = columns.filter((c) => f.columns.includes(c));
      try {
        const file = await asyncBufferFromFile(f.file);
        const rows = present.length === 0 ? Array.from({ length: hi - lo }, () => ({})) : ((await parquetReadObjects({ file, compressors, metadata: f.meta, columns: present, rowStart: lo - f.start, rowEnd: hi - f.start, ...(options.binary ? { utf8: false } : {}) })) as Row[]);
        if (rows.length !== hi - lo) throw new Error(`${rows.length} rows read where ${hi - lo} were expected`);
        out.push(...rows);
      } catch (e) {
        throw datasetError(f.file, e);
      }
    }
    if (out.length !== count) throw new TrajforgeError('E_DATASET_INVALID', `${this.dir}: the data files end before row ${from + count}; a data file is missing or truncated`, { file: this.dir });
    return out;
  }

  private async episodeTable(): Promise<EpisodeRow[]> {
    const features = this.lerobot.features;
    const first = this.episodesMeta[0] ?? {};
    const stored = (k: string) => k in first;
    const hasReward = 'next.reward' in features;
    const hasSuccess = 'next.success' in features;
    // What meta/episodes does not record (another tool's success, anyone's return) comes from the
    // reward and success columns, which are scalars and cheap to read.
    const needed = [...(hasReward && !stored('return') ? ['next.reward'] : []), ...(hasSuccess && !stored('success') ? ['next.success'] : [])];
    const rows = needed.length > 0 ? await this.rows(0, this.files.reduce((s, f) => s + f.rows, 0), needed) : null;
    return this.episodesMeta.map((em, index) => {
      const length = num(em.length);
      const from = num(em.dataset_from_index);
      const own = rows ? rows.slice(from, from + length) : [];
      const tasks = em.tasks;
      const task = Array.isArray(tasks) || ArrayBuffer.isView(tasks) ? Array.from(tasks as ArrayLike<unknown>, String).join('; ') : typeof tasks === 'string' ? tasks : this.info.instruction;
      const success = stored('success') ? Boolean(em.success) : hasSuccess ? own.some((r) => Boolean(r['next.success'])) : null;
      const ret = stored('return') ? num(em.return) : hasReward ? own.reduce((s, r) => s + num(r['next.reward']), 0) : null;
      const seed = stored('seed') && this.info.writtenBy === 'trajforge' ? num(em.seed) : null;
      return { index, length, seed, success, return: ret, task };
    });
  }

  /** Everything the page shows before an episode is chosen. */
  async summary(): Promise<ViewSummary> {
    return {
      dir: this.dir,
      envId: this.info.envId,
      writtenBy: this.info.writtenBy,
      codebaseVersion: this.info.codebaseVersion,
      fps: this.info.fps,
      instruction: this.info.instruction,
      source: this.info.source ? this.info.source.kind : null,
      episodes: this.table,
      frames: this.info.frames,
      cameras: this.cameras,
      features: Object.entries(this.lerobot.features).map(([key, f]) => ({ key, dtype: f.dtype, shape: Array.isArray(f.shape) ? f.shape.map(Number) : [] })),
      series: this.series,
      stats: await this.stats(),
      sizes: this.sizes(),
      model: this.model,
    };
  }

  private statsMemo: Promise<FeatureStatsRow[]> | null = null;

  /** Per-feature stats: meta/stats.json's, and computed from the data columns for the series it lacks. */
  stats(): Promise<FeatureStatsRow[]> {
    this.statsMemo ??= this.computeStats();
    return this.statsMemo;
  }

  private async computeStats(): Promise<FeatureStatsRow[]> {
    const file = join(this.dir, 'meta', 'stats.json');
    let stored: Record<string, Record<string, unknown>> = {};
    if (existsSync(file)) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) stored = parsed as typeof stored;
      } catch (e) {
        throw new TrajforgeError('E_DATASET_INVALID', `${file}: not valid JSON (${(e as Error).message}); regenerate the dataset or restore the file`, { file });
      }
    }
    const rows: FeatureStatsRow[] = [];
    const features = this.lerobot.features;
    const missing = this.series.filter((s) => !(s.feature in stored));
    const total = this.files.reduce((s, f) => s + f.rows, 0);
    const data = missing.length > 0 ? await this.rows(0, total, missing.map((s) => s.feature)) : [];
    for (const [key, f] of Object.entries(features)) {
      const s = stored[key];
      const names = f.dtype === 'video' ? ['r', 'g', 'b'] : featureNames(key, f);
      if (s && typeof s === 'object') {
        const out: Record<string, number[]> = {};
        let truncated = false;
        for (const stat of ['min', 'max', 'mean', 'std', ...QUANTILE_KEYS]) {
          const v = s[stat];
          if (v === undefined) continue;
          const flat = (Array.isArray(v) ? (v as unknown[]).flat(3) : [v]).map(Number);
          if (flat.length > MAX_SERIES_DIMS) truncated = true;
          out[stat] = flat.slice(0, MAX_SERIES_DIMS);
        }
        const count = Array.isArray(s.count) ? Number(s.count[0]) : typeof s.count === 'number' ? s.count : null;
        rows.push({ feature: key, dtype: f.dtype, shape: Array.isArray(f.shape) ? f.shape.map(Number) : [], names: names.slice(0, MAX_SERIES_DIMS), origin: 'stats.json', count, stats: out, truncated });
      } else if (missing.some((m) => m.feature === key)) {
        const d = dims(f);
        const values = new Float64Array(data.length * d);
        data.forEach((r, t) => {
          const v = r[key];
          if (Array.isArray(v) || ArrayBuffer.isView(v)) for (let j = 0; j < d; j++) values[t * d + j] = num((v as ArrayLike<unknown>)[j]);
          else values[t * d] = num(v);
        });
        const st = numericStats(values, data.length, d);
        const { count, ...rest } = st;
        rows.push({ feature: key, dtype: f.dtype, shape: Array.isArray(f.shape) ? f.shape.map(Number) : [], names, origin: 'computed', count: count[0] ?? data.length, stats: rest as unknown as Record<string, number[]>, truncated: false });
      }
    }
    return rows;
  }

  /** Bytes on disk: the whole folder, by part, and each camera's videos. */
  sizes(): ViewSummary['sizes'] {
    const sizes = { total: 0, data: 0, videos: 0, meta: 0, other: 0, perCamera: {} as Record<string, number>, files: 0 };
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          const bytes = statSync(p).size;
          const rel = relative(this.dir, p).split(/[\\/]/);
          sizes.total += bytes;
          sizes.files++;
          const part = rel[0] === 'data' || rel[0] === 'videos' || rel[0] === 'meta' ? rel[0] : 'other';
          sizes[part] += bytes;
          if (part === 'videos' && rel[1]) {
            const cam = this.cameras.find((c) => c.videoKey === rel[1]);
            const name = cam?.name ?? rel[1];
            sizes.perCamera[name] = (sizes.perCamera[name] ?? 0) + bytes;
          }
        }
      }
    };
    walk(this.dir);
    return sizes;
  }

  /** One episode's series: every state, action and reward dimension and the other small numeric features. */
  async episodeSeries(index: number): Promise<EpisodeSeries> {
    const em = this.episodeMeta(index);
    const length = num(em.length);
    const rows = await this.rows(num(em.dataset_from_index), length, this.series.map((s) => s.feature));
    return {
      episode: index,
      length,
      fps: this.info.fps,
      columns: this.series.map((s) => {
        const values: (number | null)[][] = s.names.map(() => new Array<number | null>(length).fill(null));
        rows.forEach((r, t) => {
          const v = r[s.feature];
          const list = Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<unknown>) : [v];
          for (let j = 0; j < s.names.length; j++) {
            const x = list[j];
            const n = typeof x === 'boolean' ? (x ? 1 : 0) : num(x);
            values[j]![t] = Number.isFinite(n) ? n : null;
          }
        });
        return { feature: s.feature, group: s.group, names: s.names, values };
      }),
    };
  }

  /**
   * The observation after an episode's last step, as rgb bytes of one camera: trajforge keeps it
   * in the episode's sidecar arrays (the video stops at the last step). Null for another tool's
   * dataset, a camera without it, or sidecars that cannot be read (`validate` names those).
   */
  finalFrame(index: number, camera: string): Uint8Array | null {
    if (this.info.writtenBy !== 'trajforge' || this.sidecars === null) return null;
    try {
      this.sidecars ??= { lines: readJsonLines(join(this.dir, 'meta', 'trajforge_episodes.jsonl')), reader: new ExtrasReader(this.dir, datasetMeta(this.dir).run.layout.chunksSize) };
    } catch {
      this.sidecars = null;
      return null;
    }
    const cam = this.camera(camera);
    try {
      const extras = this.sidecars.reader.episode(index, this.sidecars.lines[index]);
      return extras.has(`final/${cam.name}.rgb`) ? extras.finalRgb(cam.name, cam.width * cam.height * 3) : null;
    } catch {
      return null;
    }
  }

  /** Frames one response (and one decode) holds at most for a camera: a window of at most windowBytes, never less than one frame. */
  framesPerWindow(camera: string): number {
    const cam = this.camera(camera);
    return Math.max(1, Math.floor(this.windowBytes / (cam.width * cam.height * 3)));
  }

  /**
   * Rgb frames [from, from + count) of one camera in one episode, decoded (exact for the lossless
   * codec), at most framesPerWindow of them (`count` in the answer says how many). Frames are
   * decoded and cached a window at a time, so a long high-resolution episode never sits whole in
   * memory; the window after the last one asked for (the next episode's first, at the end) is
   * decoded ahead.
   */
  async frames(index: number, camera: string, from = 0, count = Number.MAX_SAFE_INTEGER): Promise<FrameRange> {
    const range = await this.range(index, camera, from, count, (w) => this.decode(index, camera, w));
    const W = this.framesPerWindow(camera);
    const next = Math.floor((range.from + range.count) / W);
    if (next * W < range.length) void this.decode(index, camera, next).catch(() => undefined);
    else if (index + 1 < this.episodesMeta.length) void this.decode(index + 1, camera, 0).catch(() => undefined);
    return range;
  }

  /** Frames [from, from + count) cut to one window's worth, assembled from the (at most two) windows they touch. */
  private async range(index: number, camera: string, from: number, count: number, window: (w: number) => Promise<FrameBlock>): Promise<FrameRange> {
    const em = this.episodeMeta(index);
    const cam = this.camera(camera);
    const length = num(em.length);
    if (!Number.isSafeInteger(from) || from < 0 || from >= Math.max(1, length)) throw new TrajforgeError('E_USAGE', `from must be a frame of episode ${index} (0..${length - 1}), got ${from}`);
    if (!Number.isSafeInteger(count) || count < 1) throw new TrajforgeError('E_USAGE', `count must be a positive integer, got ${count}`);
    const W = this.framesPerWindow(camera);
    const n = Math.max(0, Math.min(count, W, length - from));
    const frameBytes = cam.width * cam.height * 3;
    const data = new Uint8Array(n * frameBytes);
    for (let w = Math.floor(from / W); w * W < from + n; w++) {
      const block = await window(w);
      const lo = Math.max(from, w * W);
      const hi = Math.min(from + n, w * W + block.length);
      data.set(block.data.subarray((lo - w * W) * frameBytes, (hi - w * W) * frameBytes), (lo - from) * frameBytes);
    }
    return { width: cam.width, height: cam.height, length, from, count: n, data };
  }

  /** Window w (frames [w·W, (w+1)·W) of the episode) of one camera's rgb video. */
  private decode(index: number, camera: string, w: number): Promise<FrameBlock> {
    const em = this.episodeMeta(index);
    const cam = this.camera(camera);
    const key = cam.videoKey;
    if (!key) throw new TrajforgeError('E_USAGE', `camera '${camera}' stores no rgb video (stored: ${cam.overlays.join(', ')})`);
    const W = this.framesPerWindow(camera);
    return this.frameCache.get(`rgb/${index}/${camera}/${w}`, () => this.decodes.run(async () => {
      const length = Math.max(0, Math.min(W, num(em.length) - w * W));
      if (cam.stored === 'image') {
        const rows = length === 0 ? [] : await this.rows(num(em.dataset_from_index) + w * W, length, [key], { binary: true });
        const frameBytes = cam.width * cam.height * 3;
        const data = new Uint8Array(length * frameBytes);
        rows.forEach((r, i) => data.set(imageCellRgb(this.dir, r[key], { where: `${this.dir}: episode ${index} frame ${w * W + i}: column ${key}`, file: this.dir }, cam), i * frameBytes));
        return { width: cam.width, height: cam.height, length, data };
      }
      const fromKey = `videos/${key}/from_timestamp`;
      const start = Number(em[fromKey]);
      if (!Number.isFinite(start) || start < 0) {
        throw new TrajforgeError('E_DATASET_INVALID', `${join(this.dir, 'meta', 'episodes')}: episode ${index} has ${fromKey} ${JSON.stringify(em[fromKey] ?? null)}; expected the episode's start time in its video, in seconds (>= 0): repair meta/episodes or restore it`, { file: join(this.dir, 'meta', 'episodes') });
      }
      // The window's first frame is w·W frames after the episode's: the decoder starts there.
      const windowMeta = { ...em, [fromKey]: start + (w * W) / this.info.fps };
      const videos = new VideoStreams(this.dir, this.lerobot);
      try {
        const data = length === 0 ? new Uint8Array(0) : await videos.frames(key, windowMeta, cam.width * cam.height * 3, length);
        return { width: cam.width, height: cam.height, length, data };
      } finally {
        videos.close();
      }
    }));
  }

  /** Aux-channel frames [from, from + count) of one camera, false-coloured with the `trajforge render` colour maps, a window at most (as frames()). */
  overlay(index: number, camera: string, channel: string, from = 0, count = Number.MAX_SAFE_INTEGER): Promise<FrameRange> {
    this.episodeMeta(index);
    const ch = this.overlayChannel(camera, channel);
    return this.range(index, camera, from, count, (w) => this.overlayWindow(index, camera, ch, w));
  }

  /** One of the aux channels the camera stores; E_USAGE naming those it stores otherwise. */
  overlayChannel(camera: string, channel: string): AuxChannel {
    const cam = this.camera(camera);
    if (!cam.overlays.includes(channel as AuxChannel)) {
      throw new TrajforgeError('E_USAGE', `camera '${camera}' stores no ${JSON.stringify(channel.slice(0, 40)).slice(1, -1)} channel (stored overlays: ${cam.overlays.join(', ') || 'none'})`);
    }
    return channel as AuxChannel;
  }

  private overlayWindow(index: number, camera: string, ch: AuxChannel, w: number): Promise<FrameBlock> {
    const em = this.episodeMeta(index);
    const cam = this.camera(camera);
    const W = this.framesPerWindow(camera);
    return this.frameCache.get(`${ch}/${index}/${camera}/${w}`, () => this.decodes.run(async () => {
      const length = Math.max(0, Math.min(W, num(em.length) - w * W));
      const key = auxKey(camera, ch);
      const rows = length === 0 ? [] : await this.rows(num(em.dataset_from_index) + w * W, length, [key]);
      const pixels = cam.width * cam.height;
      const per = pixels * AUX_COMPONENTS[ch];
      const data = new Uint8Array(length * pixels * 3);
      rows.forEach((r, i) => {
        const t = w * W + i;
        const v = r[key];
        if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<number>).length !== per) {
          throw new TrajforgeError('E_DATASET_INVALID', `${this.dir}: episode ${index} frame ${t}: column ${key} has ${Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<number>).length : 'no list of'} values, the camera needs ${per}`, { file: this.dir });
        }
        const out = data.subarray(i * pixels * 3, (i + 1) * pixels * 3);
        colorize(ch, v as ArrayLike<number>, out);
      });
      return { width: cam.width, height: cam.height, length, data };
    }));
  }

  /** Bytes of decoded frames held. */
  get cachedBytes(): number {
    return this.frameCache.bytes;
  }
}

/** One stored aux frame as the `trajforge render` strip draws it. */
export function colorize(channel: AuxChannel, values: ArrayLike<number>, out: Uint8Array<ArrayBuffer>): Uint8Array {
  // Parquet columns usually come as typed arrays already: copied only when they are not.
  const floats = () => (values instanceof Float32Array ? values : Float32Array.from(values));
  switch (channel) {
    case 'depth':
      return depthToRgb(floats(), out);
    case 'segmentation':
      return segmentationToRgb(values instanceof Uint16Array ? values : Uint16Array.from(values), out);
    case 'flow':
      return flowToRgb(floats(), out);
    case 'normals':
      return normalsToRgb(floats(), out);
  }
}
