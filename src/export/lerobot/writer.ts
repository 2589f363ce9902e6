import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TrajforgeError } from '../../core/errors.js';
import type { EpisodeData } from '../../dataset/episode.js';
import { readJson } from '../../dataset/json.js';
import { encodeEpisode, type LeRobotEncoded } from './encode.js';
import { CODECS, VideoEncoder, concatVideos } from '../../video/ffmpeg.js';
import { readArrays, writeArrays } from '../../dataset/arrays.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { episodeExtras, sourceJson } from '../../dataset/extras.js';
import {
  CODEBASE_VERSION,
  DATA_PATH,
  VIDEO_PATH,
  auxColumns,
  dataColumns,
  dataPath,
  episodeStatFeatures,
  episodesPath,
  fileAddress,
  lerobotFeatures,
  videoCameras,
  videoKey,
  videoPath,
  type Feature,
} from './format.js';
import { ParquetFileWriter, RolloverParquetFiles, parquetBytes, type ColumnDef, type TypedColumn } from '../../dataset/parquet.js';
import { ATOMIC_TMP, discardNotice, fileBytes, removeMatching, sizeProblem } from '../../dataset/journal.js';
import { LEROBOT_ENTRIES } from '../../output/folder.js';
import { dirBytes, type EpisodeSink, type SinkOpened } from '../../dataset/sink.js';
import type { DatasetMeta, DatasetSummary } from '../../dataset/meta.js';
import { ImageHistogram, QUANTILES, QUANTILE_KEYS, numericStats, quantileSorted, type FeatureStats } from '../../dataset/stats.js';
import { removeOwn } from '../../output/remove.js';

/**
 * LeRobotDataset v3.0 writer.
 *
 * Generation streams episodes into checkpoint *parts* under DIR/.trajforge/parts: every
 * `checkpoint` episodes, one part directory holding the rows (raw arrays), one mp4 per camera
 * and per-episode metadata, renamed into place only when complete. A killed run resumes after
 * the last complete part. Each committed part is assembled into the final layout at once (data
 * parquet files and concatenated videos rolled over at LeRobot's size thresholds, meta/episodes
 * streamed), and `close()` lands meta/tasks, meta/stats.json and meta/info.json last.
 */
const STAGING = '.trajforge';
const COMMITTED_PART = /^part-(\d{5})$/;
const EXTRAS_FILE = /^episode_(\d{6})\.npz$/;
/** Written last into a part before its rename: the byte length of every file the part vouches for. */
const MANIFEST = 'manifest.json';

interface PartManifest {
  episodes: number;
  /** Files of the part folder: rows.bin, episodes.json, <camera>.mp4. */
  files: Record<string, number>;
  /** The part's meta/trajforge_episodes/episode_NNNNNN.npz files. */
  extras: Record<string, number>;
}

export interface EpisodeRecord {
  episode_index: number;
  source_episode: number;
  seed: number;
  length: number;
  success: boolean;
  return: number;
  /** Global index of the episode's first frame. */
  from_index: number;
  /** Per rgb camera: 256-bin histograms (exact image stats). */
  histograms: Record<string, ReturnType<ImageHistogram['toJSON']>>;
  /** Where the episode's frames sit (set at assembly). */
  video?: Record<string, { file: number; from_frame: number }>;
  data_file?: number;
  /** Per-episode stats of the small numeric features (for meta/episodes stats/ columns). */
  stats?: Record<string, FeatureStats>;
  /** Camera intrinsics and per-frame poses. */
  cameras?: EpisodeData['cameras'];
  /** Per-body tracks, the final observation and the action-less tail other formats need. */
  bodies?: EpisodeData['bodies'];
  collisions?: EpisodeData['collisions'];
  final_obs?: number[];
}

interface OpenPart {
  index: number;
  tmp: string;
  encoders: Map<string, VideoEncoder>;
  episodes: EpisodeRecord[];
  rows: EpisodeData[];
  /** Byte length of each episode's extras file, for the manifest. */
  extras: Record<string, number>;
}

export class LeRobotSink implements EpisodeSink<LeRobotEncoded> {
  private dir = '';
  private meta!: DatasetMeta;
  private features!: Record<string, Feature>;
  private part: OpenPart | null = null;
  private assembler: Assembler | null = null;
  private nextPart = 0;
  private nextEpisode = 0;
  private nextIndex = 0;

  async open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened> {
    this.dir = dir;
    this.meta = meta;
    this.features = lerobotFeatures(meta);
    const staging = join(dir, STAGING);
    const runFile = join(staging, 'run.json');
    // Extras and provenance only when set, so plain runs keep their run.json (and resume) unchanged.
    const run = JSON.stringify({ format: 'lerobot', configHash: meta.configHash, run: meta.run, cameras: meta.cameras, ...optionalMeta(meta) }, null, 2);
    if (opts.resume && existsSync(runFile)) {
      if (readFileSync(runFile, 'utf8') !== run) {
        throw new TrajforgeError('E_DATASET_EXISTS', `${dir} was started with different settings or config (see ${runFile}); use the same command to resume, or --overwrite`);
      }
      const notices = this.repairParts();
      this.assembler = new Assembler(dir, meta, this.features);
      for (const part of listParts(staging)) {
        const partDir = join(staging, 'parts', part);
        await this.assembler.add(partDir, readArrays(join(partDir, 'rows.bin')), readEpisodes(partDir));
      }
      return { committed: this.nextEpisode, ...(notices.length ? { notices } : {}) };
    }
    // A fresh run: parts of an earlier attempt (whose run.json never landed) would collide with ours.
    removeOwn(join(staging, 'parts'));
    removeMatching(join(dir, 'meta', 'trajforge_episodes'), EXTRAS_FILE);
    mkdirSync(join(staging, 'parts'), { recursive: true });
    writeFileAtomic(runFile, run);
    this.assembler = new Assembler(dir, meta, this.features);
    return { committed: 0 };
  }

  /**
   * Keeps the longest run of complete parts part-00000, part-00001, ... (each checked against the
   * manifest written at its commit) and deletes everything after it: later parts, unfinished
   * `.tmp` parts, per-episode extras of episodes not kept, and leftovers of a dead process.
   */
  private repairParts(): string[] {
    const partsDir = join(this.dir, STAGING, 'parts');
    mkdirSync(partsDir, { recursive: true });
    const notices: string[] = [];
    const names = readdirSync(partsDir).filter((d) => COMMITTED_PART.test(d)).sort();
    let firstBad: string | null = null;
    for (const name of names) {
      // Every committed part of an unfinished run holds `checkpoint` episodes (only close() commits a shorter last one).
      const first = Number(COMMITTED_PART.exec(name)![1]) * this.meta.run.checkpoint;
      const span = (count: number | null) => [first, first + (count ?? this.meta.run.checkpoint) - 1] as const;
      const expected = `part-${pad5(this.nextPart)}`;
      const checked =
        firstBad !== null
          ? { problem: `follows discarded ${firstBad}`, episodes: readManifest(join(partsDir, name))?.episodes ?? null }
          : name !== expected
            ? { problem: `${expected} is missing`, episodes: readManifest(join(partsDir, name))?.episodes ?? null }
            : this.checkPart(join(partsDir, name));
      if ('records' in checked) {
        this.nextPart++;
        this.nextEpisode += checked.records.length;
        this.nextIndex += checked.records.reduce((n, e) => n + e.length, 0);
        continue;
      }
      firstBad ??= name;
      const [a, b] = span(checked.episodes);
      notices.push(discardNotice(name, checked.problem, a, b));
    }
    // Unfinished `.tmp` parts and every part after the kept ones go: the run writes them again.
    const kept = new Set(names.slice(0, this.nextPart));
    for (const d of readdirSync(partsDir)) if (!kept.has(d)) removeOwn(join(partsDir, d));
    removeOwn(join(this.dir, STAGING, 'concat.tmp'));
    const extrasDir = join(this.dir, 'meta', 'trajforge_episodes');
    removeMatching(extrasDir, ATOMIC_TMP);
    // Extras of episodes past the kept parts are written again with them.
    const committed = this.nextEpisode;
    removeMatching(extrasDir, (name) => Number(EXTRAS_FILE.exec(name)?.[1] ?? -1) >= committed);
    return notices;
  }

  /** A committed part's records when every file it recorded at commit is there in full; otherwise what is wrong. */
  private checkPart(partDir: string): { records: EpisodeRecord[] } | { problem: string; episodes: number | null } {
    const manifest = readManifest(partDir);
    if (!manifest) return { problem: existsSync(join(partDir, MANIFEST)) ? `${MANIFEST} unreadable` : `${MANIFEST} missing`, episodes: null };
    const bad = (problem: string) => ({ problem, episodes: manifest.episodes });
    const needed = ['rows.bin', 'episodes.json', ...videoCameras(this.meta).map((c) => `${c.name}.mp4`)];
    for (const file of needed) {
      const bytes = manifest.files[file];
      if (bytes === undefined) return bad(`${MANIFEST} does not list ${file}`);
      const problem = sizeProblem(join(partDir, file), bytes);
      if (problem) return bad(problem);
      if (bytes === 0) return bad(`${file} is empty`);
    }
    let records: EpisodeRecord[];
    try {
      records = readEpisodes(partDir);
    } catch {
      return bad('episodes.json unreadable');
    }
    if (records.length !== manifest.episodes) return bad(`episodes.json holds ${records.length} episodes, ${manifest.episodes} recorded`);
    let index = this.nextIndex;
    for (const [k, e] of records.entries()) {
      if (e.episode_index !== this.nextEpisode + k || e.from_index !== index) return bad(`episodes.json does not continue the previous parts at episode ${this.nextEpisode + k}`);
      index += e.length;
      const extras = episodeExtrasPath(this.dir, e.episode_index);
      const bytes = manifest.extras[basename(extras)];
      if (bytes === undefined) return bad(`${MANIFEST} does not list ${basename(extras)}`);
      const problem = sizeProblem(extras, bytes, `meta/trajforge_episodes/${basename(extras)}`);
      if (problem) return bad(problem);
    }
    return { records };
  }

  encode(ep: EpisodeData, meta: DatasetMeta): LeRobotEncoded {
    return encodeEpisode(ep, meta);
  }

  async write(ep: EpisodeData, encoded?: LeRobotEncoded): Promise<void> {
    const { extras, histograms } = encoded ?? this.encode(ep, this.meta);
    if (!this.part) this.part = this.startPart();
    const part = this.part;
    const record: EpisodeRecord = {
      episode_index: this.nextEpisode,
      source_episode: ep.episode,
      seed: ep.seed,
      length: ep.length,
      success: ep.success[ep.length - 1] === 1,
      return: ep.rewards.reduce((a, b) => a + b, 0),
      from_index: this.nextIndex,
      histograms,
      collisions: ep.collisions,
      // Static body facts only; per-frame tracks are in the binary side file.
      bodies: ep.bodies.map((b) => ({ ...b, positions: [], quaternions: [], velocities: [], angularVelocities: [] })),
    };
    // Per-frame tracks and the final observation (T + 1 formats need it; LeRobot's rows stop at
    // T) go to a binary side file; the JSON sidecar keeps the small per-episode facts.
    const extrasFile = episodeExtrasPath(this.dir, this.nextEpisode);
    writeFileAtomic(extrasFile, extras);
    part.extras[basename(extrasFile)] = extras.byteLength;
    for (const cam of videoCameras(this.meta)) {
      const frames = ep.frames.find((f) => f.camera === cam.name && f.channel === 'rgb')!;
      await part.encoders.get(cam.name)!.write(frames.data as Uint8Array);
    }
    // Keep only what the parquet needs (the rgb frames are in the encoder now).
    part.rows.push({ ...ep, frames: ep.frames.filter((f) => f.channel !== 'rgb'), finalFrames: [] });
    part.episodes.push(record);
    this.nextEpisode++;
    this.nextIndex += ep.length;
    if (part.episodes.length >= this.meta.run.checkpoint) await this.commitPart();
  }

  async close(): Promise<DatasetSummary> {
    if (this.part) await this.commitPart();
    this.checkPartsComplete();
    const summary = await this.assembler!.finish();
    this.assembler = null;
    removeStaging(this.dir);
    return summary;
  }

  entries(): string[] {
    return LEROBOT_ENTRIES;
  }

  /** A finished dataset from before generate kept its run record: the same run when config, seed, episodes and shard agree. */
  finishedRun(dir: string, meta: DatasetMeta): { episodes: number; frames: number } | null {
    const sidecar = join(dir, 'meta', 'trajforge.json');
    const info = join(dir, 'meta', 'info.json');
    if (existsSync(join(dir, STAGING)) || !existsSync(sidecar) || !existsSync(info)) return null;
    // A damaged file is named (E_DATASET_INVALID) rather than read as a different run.
    const side = readJson<{ config_hash?: string; run?: Record<string, unknown> }>(sidecar);
    const run = meta.run as unknown as Record<string, unknown>;
    const same = side.config_hash === meta.configHash && ['seed', 'episodes', 'shard'].every((k) => JSON.stringify(side.run?.[k]) === JSON.stringify(run[k]));
    if (!same) return null;
    const i = readJson<{ total_episodes: number; total_frames: number }>(info);
    return { episodes: i.total_episodes, frames: i.total_frames };
  }

  async abort(): Promise<void> {
    this.assembler?.abort();
    this.assembler = null;
    if (!this.part) return;
    for (const e of this.part.encoders.values()) e.abort();
    this.part = null;
  }

  private checkPartsComplete(): void {
    const staging = join(this.dir, STAGING);
    const missing = missingPart(staging, this.nextPart, this.nextEpisode);
    if (missing) {
      throw new TrajforgeError('E_IO', `writing ${this.dir} failed: ${missing} of ${join(staging, 'parts')} vanished while writing (removed by another process?)`, {
        file: join(staging, 'parts'),
        hint: 'run with --resume to redo the missing episodes',
      });
    }
  }

  private startPart(): OpenPart {
    const tmp = join(this.dir, STAGING, 'parts', `part-${pad5(this.nextPart)}.tmp`);
    removeOwn(tmp);
    mkdirSync(tmp, { recursive: true });
    const encoders = new Map<string, VideoEncoder>();
    for (const c of videoCameras(this.meta)) {
      encoders.set(c.name, new VideoEncoder(join(tmp, `${c.name}.mp4`), { width: c.width, height: c.height, fps: this.meta.fps, codec: this.meta.run.codec, gop: this.meta.run.gop }));
    }
    return { index: this.nextPart, tmp, encoders, episodes: [], rows: [], extras: {} };
  }

  /** Finishes the part's videos and rows, then renames the directory: the part is now durable. */
  private async commitPart(): Promise<void> {
    const part = this.part!;
    this.part = null;
    await Promise.all([...part.encoders.values()].map((e) => e.finish()));
    const rows = packRows(part.rows, this.meta);
    writeArrays(join(part.tmp, 'rows.bin'), rows);
    writeFileAtomic(join(part.tmp, 'episodes.json'), JSON.stringify(part.episodes));
    const files: Record<string, number> = {};
    for (const file of ['rows.bin', 'episodes.json', ...[...part.encoders.keys()].map((c) => `${c}.mp4`)]) files[file] = fileBytes(join(part.tmp, file));
    const manifest: PartManifest = { episodes: part.episodes.length, files, extras: part.extras };
    writeFileAtomic(join(part.tmp, MANIFEST), JSON.stringify(manifest));
    const committed = join(this.dir, STAGING, 'parts', `part-${pad5(part.index)}`);
    renameSync(part.tmp, committed);
    this.nextPart++;
    // Records as read back from episodes.json on resume, so both paths assemble the same bytes.
    await this.assembler!.add(committed, rows, JSON.parse(JSON.stringify(part.episodes)) as EpisodeRecord[]);
  }
}

/**
 * meta/trajforge_episodes/episode_NNNNNN.npz: `final/<camera>.<channel>` frames and `final_obs` of
 * the last observation (and `final_extra/<key>` of each extra feature that has a final value);
 * `body/<id>/{positions, quaternions, velocities, angular_velocities}` and
 * `camera/<name>/{positions, quaternions, K, world_to_camera}` per frame (float64, T + 1 rows).
 */
export function episodeExtrasPath(dir: string, episode: number): string {
  return join(dir, 'meta', 'trajforge_episodes', `episode_${String(episode).padStart(6, '0')}.npz`);
}


function pad5(n: number): string {
  return String(n).padStart(5, '0');
}

/** Parts present on disk but for one that vanished (another process removed it): never assembled as a shorter dataset. */
function missingPart(staging: string, expectedParts: number, expectedEpisodes: number): string | null {
  const parts = listParts(staging);
  for (let i = 0; i < expectedParts; i++) if (parts[i] !== `part-${pad5(i)}`) return `part-${pad5(i)}`;
  const episodes = parts.reduce((n, p) => n + readEpisodes(join(staging, 'parts', p)).length, 0);
  return episodes === expectedEpisodes ? null : `parts holding ${expectedEpisodes - episodes} episode(s)`;
}

function listParts(staging: string): string[] {
  const dir = join(staging, 'parts');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^part-\d{5}$/.test(d))
    .sort();
}

function readManifest(partDir: string): PartManifest | null {
  try {
    const m = JSON.parse(readFileSync(join(partDir, MANIFEST), 'utf8')) as PartManifest;
    return Number.isInteger(m.episodes) && typeof m.files === 'object' && typeof m.extras === 'object' ? m : null;
  } catch {
    return null;
  }
}

function readEpisodes(partDir: string): EpisodeRecord[] {
  return JSON.parse(readFileSync(join(partDir, 'episodes.json'), 'utf8')) as EpisodeRecord[];
}

/** One part's rows as flat arrays: everything the data parquet needs except computed indices. */
function packRows(rows: EpisodeData[], meta: DatasetMeta): Record<string, Float32Array | Uint8Array | Uint16Array | Int32Array> {
  const total = rows.reduce((n, r) => n + r.length, 0);
  const cat = <T extends Float32Array | Uint8Array | Uint16Array>(parts: T[], ctor: new (n: number) => T): T => {
    const out = new ctor(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p as never, o);
      o += p.length;
    }
    return out;
  };
  const out: Record<string, Float32Array | Uint8Array | Uint16Array | Int32Array> = {
    lengths: Int32Array.from(rows.map((r) => r.length)),
    obs: cat(rows.map((r) => r.obs), Float32Array),
    actions: cat(rows.map((r) => r.actions), Float32Array),
    rewards: cat(rows.map((r) => r.rewards), Float32Array),
    terminated: cat(rows.map((r) => r.terminated), Uint8Array),
    truncated: cat(rows.map((r) => r.truncated), Uint8Array),
    success: cat(rows.map((r) => r.success), Uint8Array),
  };
  for (const a of auxColumns(meta)) {
    const frames = rows.map((r) => r.frames.find((f) => f.camera === a.camera && f.channel === a.channel)!.data);
    out[a.key] = a.dtype === 'uint16' ? cat(frames as Uint16Array[], Uint16Array) : cat(frames as Float32Array[], Float32Array);
  }
  for (const [i, x] of (meta.extraFeatures ?? []).entries()) out[`extra/${x.key}`] = cat(rows.map((r) => episodeExtras(meta, r)[i]!.data), Float32Array);
  void total;
  return out;
}

// ---- assembly ----------------------------------------------------------------------------

/**
 * Builds the final layout from committed parts, one part at a time in order: as each part commits
 * during the run (so assembly overlaps simulation instead of following it), and from the staged
 * parts on resume. Videos: parts concatenated (no re-encoding) per camera, a new file past the size
 * threshold. Data: one row group per part, a new file once the uncompressed size passes the
 * threshold. Metadata streams into meta/ and lands last, in finish().
 */
class Assembler {
  private readonly columns: ColumnDef[];
  private readonly numeric: NumericCollector;
  private readonly metaWriter: MetadataWriter;
  private readonly videos = new Map<string, { group: string[]; groupBytes: number; file: number; frameInFile: number }>();
  private readonly data: RolloverParquetFiles;

  constructor(
    private readonly dir: string,
    private readonly meta: DatasetMeta,
    private readonly features: Record<string, Feature>,
  ) {
    this.columns = dataColumns(features);
    this.numeric = new NumericCollector(features, extraKeys(meta));
    this.metaWriter = new MetadataWriter(dir, meta, features);
    this.data = new RolloverParquetFiles((n) => join(dir, dataPath(...fileAddress(n, meta.run.layout.chunksSize))), meta.run.layout.dataFileMb * 1024 * 1024);
    for (const cam of videoCameras(meta)) this.videos.set(cam.name, { group: [], groupBytes: 0, file: 0, frameInFile: 0 });
  }

  /** Adds a committed part: its folder, its rows (as packed at commit, or read back from rows.bin) and its episode records. */
  async add(part: string, arrays: Record<string, ArrayLike<number> & { length: number; byteLength: number }>, eps: EpisodeRecord[]): Promise<void> {
    const refs: Record<string, { file: number; from_frame: number }>[] = eps.map(() => ({}));
    for (const cam of videoCameras(this.meta)) {
      const v = this.videos.get(cam.name)!;
      const mp4 = join(part, `${cam.name}.mp4`);
      const size = statSync(mp4).size;
      if (v.group.length > 0 && v.groupBytes + size > this.meta.run.layout.videoFileMb * 1024 * 1024) await this.flushVideo(cam.name);
      v.group.push(mp4);
      v.groupBytes += size;
      eps.forEach((e, k) => {
        refs[k]![videoKey(cam.name)] = { file: v.file, from_frame: v.frameInFile };
        v.frameInFile += e.length;
      });
    }
    const partBytes = Object.values(arrays).reduce((n, a) => n + a.byteLength, 0);
    const table = partTable(arrays, eps, this.meta, this.features);
    await this.data.write(typedColumns(this.columns, this.features, table.data, table.rows), table.rows, partBytes);
    this.numeric.add(table.data, table.rows);
    addEpisodeStats(table.data, eps, this.features, episodeStatFeatures(this.meta, this.features));
    eps.forEach((e, k) => {
      e.data_file = this.data.file;
      e.video = refs[k]!;
      this.metaWriter.add(e);
    });
  }

  async finish(): Promise<DatasetSummary> {
    for (const cam of this.videos.keys()) await this.flushVideo(cam);
    await this.data.finish();
    return this.metaWriter.finish(this.numeric);
  }

  /** Stops without finishing: the data file being written stays a .tmp (the next run rewrites it). */
  abort(): void {
    this.data.abort();
  }

  private async flushVideo(camera: string): Promise<void> {
    const v = this.videos.get(camera)!;
    if (v.group.length === 0) return;
    const [chunk, file] = fileAddress(v.file, this.meta.run.layout.chunksSize);
    const out = join(this.dir, videoPath(videoKey(camera), chunk, file));
    mkdirSync(join(out, '..'), { recursive: true });
    if (v.group.length === 1) copyFileSync(v.group[0]!, `${out}.tmp`);
    else await concatVideos(v.group, `${out}.tmp`, this.meta.fps, this.meta.run.codec, join(this.dir, STAGING, 'concat.tmp'));
    renameSync(`${out}.tmp`, out);
    v.group = [];
    v.groupBytes = 0;
    v.file++;
    v.frameInFile = 0;
  }

}

/**
 * Streams the metadata of a dataset being assembled (generate and merge): meta/episodes rows in
 * row groups, per-episode histograms folded into dataset totals and appended to the sidecar as
 * they come, so memory does not grow with the number of episodes; then tasks, stats, the
 * trajforge sidecar and info.json last.
 */
export class MetadataWriter {
  private readonly episodesWriter: ParquetFileWriter;
  private readonly episodesFile: string;
  private readonly sidecarLines: string;
  private readonly columns: ColumnDef[];
  private readonly keys: string[];
  private readonly statFeatures: string[];
  private buffer: Record<string, unknown[]> = {};
  private buffered = 0;
  private readonly hists = new Map<string, ImageHistogram>();
  private episodes = 0;
  private frames = 0;
  private successes = 0;

  constructor(
    private readonly dir: string,
    private readonly meta: DatasetMeta,
    private readonly features: Record<string, Feature>,
  ) {
    this.keys = videoCameras(meta).map((c) => videoKey(c.name));
    this.statFeatures = episodeStatFeatures(meta, features);
    this.columns = episodesColumns(this.keys, this.statFeatures);
    this.episodesFile = join(dir, episodesPath(0, 0));
    mkdirSync(join(this.episodesFile, '..'), { recursive: true });
    this.episodesWriter = new ParquetFileWriter(`${this.episodesFile}.tmp`, this.columns);
    this.sidecarLines = join(dir, 'meta', 'trajforge_episodes.jsonl');
    writeFileSync(`${this.sidecarLines}.tmp`, '');
  }

  add(e: EpisodeRecord): void {
    const push = (name: string, v: unknown) => (this.buffer[name] ??= []).push(v);
    const [dchunk, dfile] = fileAddress(e.data_file ?? 0, this.meta.run.layout.chunksSize);
    push('episode_index', BigInt(e.episode_index));
    push('tasks', [this.meta.instruction]);
    push('length', BigInt(e.length));
    push('data/chunk_index', BigInt(dchunk));
    push('data/file_index', BigInt(dfile));
    push('dataset_from_index', BigInt(e.from_index));
    push('dataset_to_index', BigInt(e.from_index + e.length));
    for (const k of this.keys) {
      const v = e.video![k]!;
      const [vchunk, vfile] = fileAddress(v.file, this.meta.run.layout.chunksSize);
      push(`videos/${k}/chunk_index`, BigInt(vchunk));
      push(`videos/${k}/file_index`, BigInt(vfile));
      // Integer frame counts divided once: no float drift along the file.
      push(`videos/${k}/from_timestamp`, v.from_frame / this.meta.fps);
      push(`videos/${k}/to_timestamp`, (v.from_frame + e.length) / this.meta.fps);
    }
    push('meta/episodes/chunk_index', 0n);
    push('meta/episodes/file_index', 0n);
    push('seed', BigInt(e.seed));
    push('source_episode', BigInt(e.source_episode));
    push('success', e.success);
    push('config_hash', this.meta.configHash);
    // 'simulation' is what plain runs have always written; dreamed episodes say so.
    push('source', this.meta.source?.kind === 'world-model' ? 'world-model' : 'simulation');
    for (const f of this.statFeatures) for (const st of STAT_NAMES) push(`stats/${f}/${st}`, e.stats![f]![st]);
    if (++this.buffered >= 256) this.flush();
    for (const [k, h] of Object.entries(e.histograms)) {
      const hist = ImageHistogram.fromJSON(h);
      if (this.hists.has(k)) this.hists.get(k)!.merge(hist);
      else this.hists.set(k, hist);
    }
    appendFileSync(`${this.sidecarLines}.tmp`, `${JSON.stringify({ ...sidecarEpisode(e), ...sourceFields(this.meta) })}\n`);
    this.episodes++;
    this.frames += e.length;
    if (e.success) this.successes++;
  }

  private flush(): void {
    this.episodesWriter.write(this.buffer, this.buffered);
    this.buffer = {};
    this.buffered = 0;
  }

  /** `numeric`: the dataset-wide stats of the non-video features (a NumericCollector, or stats kept from a source dataset). */
  finish(numeric: Pick<NumericCollector, 'stats'>): DatasetSummary {
    const { dir, meta, features } = this;
    if (this.buffered > 0) this.flush();
    this.episodesWriter.finish();
    renameSync(`${this.episodesFile}.tmp`, this.episodesFile);
    renameSync(`${this.sidecarLines}.tmp`, this.sidecarLines);
    writeTasks(dir, meta);
    const stats = numeric.stats();
    for (const [k, h] of this.hists) stats[k] = h.stats();
    writeFileAtomic(join(dir, 'meta', 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    writeFileAtomic(
      join(dir, 'meta', 'trajforge.json'),
      `${JSON.stringify({ env_id: meta.envId, config_hash: meta.configHash, config: meta.config, run: meta.run, fps: meta.fps, instruction: meta.instruction, observation_names: meta.observationNames, action_names: meta.actionNames, discrete: meta.discrete, cameras: meta.cameras, body_names: meta.bodyNames, episodes_file: 'meta/trajforge_episodes.jsonl', ...sidecarOptional(meta) }, null, 1)}\n`,
    );
    const info = {
      codebase_version: CODEBASE_VERSION,
      robot_type: 'trajforge-sim',
      total_episodes: this.episodes,
      total_frames: this.frames,
      total_tasks: 1,
      chunks_size: meta.run.layout.chunksSize,
      data_files_size_in_mb: meta.run.layout.dataFileMb,
      video_files_size_in_mb: meta.run.layout.videoFileMb,
      fps: meta.fps,
      splits: { train: `0:${this.episodes}` },
      data_path: DATA_PATH,
      video_path: this.keys.length > 0 ? VIDEO_PATH : null,
      features,
    };
    writeFileAtomic(join(dir, 'meta', 'info.json'), `${JSON.stringify(info, null, 4)}\n`);
    return { dir, episodes: this.episodes, frames: this.frames, successes: this.successes, bytes: dirBytes(dir) };
  }
}

/** Per-episode stats of the small numeric features (`statFeatures`), from one table of consecutive episodes. */
export function addEpisodeStats(data: Record<string, unknown[]>, eps: EpisodeRecord[], features: Record<string, Feature>, statFeatures: string[]): void {
  let r0 = 0;
  for (const e of eps) {
    e.stats = {};
    for (const f of statFeatures) {
      const col = data[f]!.slice(r0, r0 + e.length);
      const flat = col.flatMap((v) => (Array.isArray(v) ? v.map(Number) : [Number(v)]));
      e.stats[f] = numericStats(flat, e.length, features[f]!.shape[0]!);
    }
    r0 += e.length;
  }
}

/** run.json additions: present only when set, so plain runs stay byte-identical. */
function optionalMeta(meta: DatasetMeta) {
  return { ...(meta.extraFeatures?.length ? { extraFeatures: meta.extraFeatures } : {}), ...(meta.source ? { source: meta.source } : {}) };
}

/** meta/trajforge.json additions (snake_case like the rest of the sidecar); read back by metaFromSidecar. */
function sidecarOptional(meta: DatasetMeta) {
  return {
    ...(meta.extraFeatures?.length ? { extra_features: meta.extraFeatures.map((x) => ({ key: x.key, dim: x.dim, ...(x.names ? { names: x.names } : {}) })) } : {}),
    ...(meta.source ? { source: sourceJson(meta.source) } : {}),
  };
}

/** Provenance on every line of meta/trajforge_episodes.jsonl, so a single episode still says where it came from. */
function sourceFields(meta: DatasetMeta) {
  if (!meta.source) return {};
  const { kind, ...model } = sourceJson(meta.source);
  return { source: kind, ...model };
}

/** Keys of the extra features (their stats are per dimension however wide they are). */
export function extraKeys(meta: DatasetMeta): string[] {
  return (meta.extraFeatures ?? []).map((x) => x.key);
}

function sidecarEpisode(e: EpisodeRecord) {
  return { episode_index: e.episode_index, source_episode: e.source_episode, seed: e.seed, length: e.length, success: e.success, return: e.return, bodies: e.bodies, collisions: e.collisions, histograms: e.histograms };
}

/** A part's rows as parquet columns, with the dataset-wide indices filled in. */
export function partTable(arrays: Record<string, ArrayLike<number> & { length: number }>, eps: EpisodeRecord[], meta: DatasetMeta, features: Record<string, Feature>): { data: Record<string, unknown[]>; rows: number } {
  const rows = eps.reduce((n, e) => n + e.length, 0);
  const D = meta.observationNames.length;
  const A = meta.discrete ? 1 : meta.actionNames.length;
  const data: Record<string, unknown[]> = {};
  const vec = (src: ArrayLike<number>, dims: number) => Array.from({ length: rows }, (_, r) => Array.prototype.slice.call(src, r * dims, (r + 1) * dims) as number[]);
  data['observation.state'] = vec(arrays.obs!, D);
  data.action = meta.discrete ? Array.from(arrays.actions!, (a) => BigInt(Math.round(a))) : vec(arrays.actions!, A);
  data['next.reward'] = Array.from(arrays.rewards!);
  const term = arrays.terminated!;
  const trunc = arrays.truncated!;
  data['next.done'] = Array.from({ length: rows }, (_, r) => term[r] === 1 || trunc[r] === 1);
  data['next.terminated'] = Array.from(term, (v) => v === 1);
  data['next.truncated'] = Array.from(trunc, (v) => v === 1);
  data['next.success'] = Array.from(arrays.success!, (v) => v === 1);
  for (const x of meta.extraFeatures ?? []) {
    const src = arrays[`extra/${x.key}`]!;
    data[x.key] = x.dim === 1 ? Array.from(src) : vec(src, x.dim);
  }
  // Large image-like columns as per-row views (stats sample them; the parquet gets typed arrays).
  for (const a of auxColumns(meta)) {
    const src = arrays[a.key] as unknown as Float32Array;
    data[a.key] = Array.from({ length: rows }, (_, r) => src.subarray(r * a.size, (r + 1) * a.size));
  }
  const ts: number[] = [];
  const fi: bigint[] = [];
  const ei: bigint[] = [];
  const ix: bigint[] = [];
  for (const e of eps) {
    for (let t = 0; t < e.length; t++) {
      ts.push(Math.fround(t / meta.fps));
      fi.push(BigInt(t));
      ei.push(BigInt(e.episode_index));
      ix.push(BigInt(e.from_index + t));
    }
  }
  data.timestamp = ts;
  data.frame_index = fi;
  data.episode_index = ei;
  data.index = ix;
  data.task_index = Array.from({ length: rows }, () => 0n);
  void features;
  return { data, rows };
}

/** The data file columns of one table as typed arrays (what the Arrow writer takes). */
export function typedColumns(defs: ColumnDef[], features: Record<string, Feature>, data: Record<string, unknown[]>, rows: number): TypedColumn[] {
  return defs.map((def) => {
    const dims = def.form === 'scalar' ? 1 : features[def.name]!.shape[0]!;
    const col = data[def.name]!;
    const values =
      def.dtype === 'int64' ? new BigInt64Array(rows * dims) : def.dtype === 'bool' ? new Uint8Array(rows * dims) : def.dtype === 'uint16' ? new Uint16Array(rows * dims) : def.dtype === 'float64' ? new Float64Array(rows * dims) : new Float32Array(rows * dims);
    for (let r = 0; r < rows; r++) {
      const v = col[r];
      if (dims === 1) {
        (values as unknown as unknown[])[r] = def.dtype === 'int64' ? BigInt(v as bigint | number) : def.dtype === 'bool' ? (v ? 1 : 0) : Number(v);
      } else if (def.dtype === 'int64') {
        for (let d = 0; d < dims; d++) (values as BigInt64Array)[r * dims + d] = BigInt((v as ArrayLike<number>)[d]!);
      } else (values as Float32Array).set(v as ArrayLike<number>, r * dims);
    }
    return { def, dims, values };
  });
}

/**
 * Dataset statistics in bounded memory. Per dimension: count, min, max, mean and std are exact
 * (Welford's streaming update, in row order); quantiles come from a deterministic stride sample:
 * every row while at most SAMPLE_ROWS rows have been seen (exact quantiles), then the sample is
 * halved by keeping every other row whenever it fills up. Large image-like features contribute a
 * few frames per part (like LeRobot's sampled image stats). Equal rows in equal order give equal
 * stats, which is what makes merged shards match a single run.
 */
export class NumericCollector {
  static readonly SAMPLE_ROWS = 200_000;
  /**
   * Image-like features (wider than 64) are sampled every SAMPLE_STRIDE-th row of the dataset,
   * counted from its first row, so the stats do not depend on how rows arrive (per checkpoint part
   * in generate, per episode in merge): a merged dataset's stats equal a single run's.
   */
  private static readonly SAMPLE_STRIDE = 100;
  private readonly acc = new Map<string, Accumulator>();
  /** Rows added so far: the dataset index of the next row. */
  private seen = 0;
  private readonly exact: Set<string>;
  /** `exact`: features kept per dimension even when wider than 64 (extra features such as latents are vectors, not images). */
  constructor(
    private readonly features: Record<string, Feature>,
    exact: string[] = [],
  ) {
    this.exact = new Set(exact);
  }

  add(data: Record<string, unknown[]>, rows: number): void {
    for (const [name, f] of Object.entries(this.features)) {
      if (f.dtype === 'video' || !(name in data)) continue;
      const col = data[name]!;
      const large = (f.shape[0] ?? 1) > 64 && !this.exact.has(name);
      const dims = large ? 1 : f.shape[0]!;
      let acc = this.acc.get(name);
      if (!acc) {
        acc = new Accumulator(dims, NumericCollector.SAMPLE_ROWS);
        this.acc.set(name, acc);
      }
      const stride = large ? NumericCollector.SAMPLE_STRIDE : 1;
      const row = new Float64Array(dims);
      for (let r = (stride - (this.seen % stride)) % stride; r < rows; r += stride) {
        const v = col[r];
        if (large) {
          const xs = v as ArrayLike<number>;
          for (let i = 0; i < xs.length; i++) {
            row[0] = Number(xs[i]);
            acc.add(row);
          }
        } else if (Array.isArray(v) || ArrayBuffer.isView(v)) {
          for (let d = 0; d < dims; d++) row[d] = Number((v as ArrayLike<number>)[d]);
          acc.add(row);
        } else {
          row[0] = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
          acc.add(row);
        }
      }
    }
    this.seen += rows;
  }

  stats(): Record<string, FeatureStats | ReturnType<ImageHistogram['stats']>> {
    const out: Record<string, FeatureStats | ReturnType<ImageHistogram['stats']>> = {};
    for (const [name, a] of this.acc) out[name] = a.stats();
    return out;
  }
}

class Accumulator {
  private n = 0;
  private finite: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private sample: Float32Array;
  private sampled = 0;
  private stride = 1;

  constructor(
    private readonly dims: number,
    private readonly cap: number,
  ) {
    this.finite = new Float64Array(dims);
    this.mean = new Float64Array(dims);
    this.m2 = new Float64Array(dims);
    this.min = new Float64Array(dims).fill(Infinity);
    this.max = new Float64Array(dims).fill(-Infinity);
    this.sample = new Float32Array(Math.min(cap, 1024) * dims);
  }

  add(row: Float64Array): void {
    const D = this.dims;
    for (let d = 0; d < D; d++) {
      const x = row[d]!;
      if (!Number.isFinite(x)) continue; // e.g. +inf depth where nothing is hit
      const k = ++this.finite[d]!;
      const delta = x - this.mean[d]!;
      this.mean[d]! += delta / k;
      this.m2[d]! += delta * (x - this.mean[d]!);
      if (x < this.min[d]!) this.min[d] = x;
      if (x > this.max[d]!) this.max[d] = x;
    }
    if (this.n % this.stride === 0) {
      if ((this.sampled + 1) * D > this.sample.length) {
        if (this.sampled < this.cap) {
          const grown = new Float32Array(Math.min(this.cap, this.sample.length / D * 2) * D);
          grown.set(this.sample);
          this.sample = grown;
        } else {
          // Full: keep every other sampled row, sample half as often from now on.
          for (let i = 0; i < this.sampled / 2; i++) this.sample.copyWithin(i * D, 2 * i * D, 2 * i * D + D);
          this.sampled = Math.ceil(this.sampled / 2);
          this.stride *= 2;
        }
      }
      if (this.n % this.stride === 0) {
        for (let d = 0; d < D; d++) this.sample[this.sampled * D + d] = row[d]!;
        this.sampled++;
      }
    }
    this.n++;
  }

  stats(): FeatureStats {
    const s: FeatureStats = { min: [], max: [], mean: [], std: [], count: [this.n], q01: [], q10: [], q50: [], q90: [], q99: [] };
    const col = new Float64Array(this.sampled);
    for (let d = 0; d < this.dims; d++) {
      let m = 0;
      for (let i = 0; i < this.sampled; i++) {
        const v = this.sample[i * this.dims + d]!;
        if (Number.isFinite(v)) col[m++] = v;
      }
      const sorted = col.subarray(0, m).sort();
      const n = this.finite[d]!;
      s.min.push(n ? this.min[d]! : NaN);
      s.max.push(n ? this.max[d]! : NaN);
      s.mean.push(n ? this.mean[d]! : NaN);
      s.std.push(n ? Math.sqrt(this.m2[d]! / n) : NaN);
      QUANTILES.forEach((q, i) => s[QUANTILE_KEYS[i]!].push(quantileSorted(sorted, q)));
    }
    return s;
  }
}

function episodesColumns(keys: string[], statFeatures: string[]): ColumnDef[] {
  const columns: ColumnDef[] = [
    { name: 'episode_index', dtype: 'int64', form: 'scalar' },
    { name: 'tasks', dtype: 'string', form: 'list' },
    { name: 'length', dtype: 'int64', form: 'scalar' },
    { name: 'data/chunk_index', dtype: 'int64', form: 'scalar' },
    { name: 'data/file_index', dtype: 'int64', form: 'scalar' },
    { name: 'dataset_from_index', dtype: 'int64', form: 'scalar' },
    { name: 'dataset_to_index', dtype: 'int64', form: 'scalar' },
    ...keys.flatMap((k): ColumnDef[] => [
      { name: `videos/${k}/chunk_index`, dtype: 'int64', form: 'scalar' },
      { name: `videos/${k}/file_index`, dtype: 'int64', form: 'scalar' },
      { name: `videos/${k}/from_timestamp`, dtype: 'float64', form: 'scalar' },
      { name: `videos/${k}/to_timestamp`, dtype: 'float64', form: 'scalar' },
    ]),
    { name: 'meta/episodes/chunk_index', dtype: 'int64', form: 'scalar' },
    { name: 'meta/episodes/file_index', dtype: 'int64', form: 'scalar' },
    { name: 'seed', dtype: 'int64', form: 'scalar' },
    { name: 'source_episode', dtype: 'int64', form: 'scalar' },
    { name: 'success', dtype: 'bool', form: 'scalar' },
    { name: 'config_hash', dtype: 'string', form: 'scalar' },
    { name: 'source', dtype: 'string', form: 'scalar' },
  ];
  for (const f of statFeatures) for (const s of STAT_NAMES) columns.push({ name: `stats/${f}/${s}`, dtype: 'float64', form: 'list' });
  return columns;
}

export const STAT_NAMES = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'] as const;

/** meta/tasks.parquet: a pandas frame indexed by the task string, with a task_index column. */
function writeTasks(dir: string, meta: DatasetMeta): void {
  const pandas = {
    index_columns: ['task'],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: [
      { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
      { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
    ],
    creator: { library: 'trajforge', version: '0.1.0' },
    pandas_version: '2.2.3',
  };
  const bytes = parquetBytes(
    {
      columns: [
        { name: 'task_index', dtype: 'int64', form: 'scalar' },
        { name: 'task', dtype: 'string', form: 'scalar' },
      ],
      data: { task_index: [0n], task: [meta.instruction] },
    },
    1,
    [{ key: 'pandas', value: JSON.stringify(pandas) }],
  );
  writeFileAtomic(join(dir, 'meta', 'tasks.parquet'), bytes);
}


/** Removes the staging area once a dataset is complete. */
export function removeStaging(dir: string): void {
  removeOwn(join(dir, STAGING));
}

export const LEROBOT_STAGING = STAGING;
export { CODECS };
