import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TrajforgeError } from '../../core/errors.js';
import type { EpisodeData } from '../../dataset/episode.js';
import { readJson } from '../../dataset/json.js';
import { encodeEpisode, type LeRobotEncoded } from './encode.js';
import { VideoEncoder } from '../../video/ffmpeg.js';
import { readArrays, writeArraysGzipped } from '../../dataset/arrays.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { episodeExtras } from '../../dataset/extras.js';
import { auxColumns, lerobotFeatures, videoCameras, type Feature } from './format.js';
import { ATOMIC_TMP, discardNotice, fileBytes, removeMatching, sizeProblem } from '../../dataset/journal.js';
import { LEROBOT_ENTRIES } from '../../output/folder.js';
import { type EpisodeSink, type SinkOpened } from '../../dataset/sink.js';
import type { DatasetMeta, DatasetSummary } from '../../dataset/meta.js';
import { removeOwn } from '../../output/remove.js';
import { Assembler } from './assemble.js';
import { partExtrasPath } from './extras-files.js';
import { optionalMeta, type EpisodeRecord } from './metadata.js';
import { CODECS } from '../../video/ffmpeg.js';
export { CODECS };

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
/** Scratch files of the video concatenation (one per camera; `concat.tmp` before). */
const CONCAT_SCRATCH = /^concat(-\d+)?\.tmp$/;
/** The per-episode sidecar files of the older layout, and the chunk folders of the current one (extras-files.ts). */
const EXTRAS_FILE = /^episode_(\d{6})\.npz$/;
const EXTRAS_CHUNK = /^chunk-\d{3}$/;
/** Written last into a part before its rename: the byte length of every file the part vouches for. */
const MANIFEST = 'manifest.json';
/** A part's rows, gzipped; parts committed by earlier versions hold them raw as `rows.bin`, and resume reads either. */
const ROWS = 'rows.bin.gz';
const RAW_ROWS = 'rows.bin';

interface PartManifest {
  episodes: number;
  /** Files of the part folder: rows.bin.gz (rows.bin before), episodes.json, <camera>.mp4. */
  files: Record<string, number>;
  /** The part's extras/episode_NNNNNN.npz files (each episode's sidecar arrays, assembled into meta/trajforge_episodes). */
  extras: Record<string, number>;
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
      this.assembler = new Assembler(dir, meta, this.features, (camera) => join(dir, STAGING, `concat-${camera}.tmp`));
      for (const part of listParts(staging)) {
        const partDir = join(staging, 'parts', part);
        await this.assembler.add(partDir, readArrays(join(partDir, rowsFile(readManifest(partDir)!))), readEpisodes(partDir));
      }
      return { committed: this.nextEpisode, ...(notices.length ? { notices } : {}) };
    }
    // A fresh run: parts of an earlier attempt (whose run.json never landed) would collide with ours.
    removeOwn(join(staging, 'parts'));
    removeMatching(join(dir, 'meta', 'trajforge_episodes'), (name) => EXTRAS_FILE.test(name) || EXTRAS_CHUNK.test(name));
    mkdirSync(join(staging, 'parts'), { recursive: true });
    writeFileAtomic(runFile, run);
    this.assembler = new Assembler(dir, meta, this.features, (camera) => join(dir, STAGING, `concat-${camera}.tmp`));
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
    removeMatching(join(this.dir, STAGING), CONCAT_SCRATCH);
    const extrasDir = join(this.dir, 'meta', 'trajforge_episodes');
    // The assembled sidecar files are assembled again from the kept parts (as the data files are);
    // per-episode files of the older layout past them go too.
    const committed = this.nextEpisode;
    removeMatching(extrasDir, (name) => ATOMIC_TMP.test(name) || EXTRAS_CHUNK.test(name) || Number(EXTRAS_FILE.exec(name)?.[1] ?? -1) >= committed);
    return notices;
  }

  /** A committed part's records when every file it recorded at commit is there in full; otherwise what is wrong. */
  private checkPart(partDir: string): { records: EpisodeRecord[] } | { problem: string; episodes: number | null } {
    const manifest = readManifest(partDir);
    if (!manifest) return { problem: existsSync(join(partDir, MANIFEST)) ? `${MANIFEST} unreadable` : `${MANIFEST} missing`, episodes: null };
    const bad = (problem: string) => ({ problem, episodes: manifest.episodes });
    const needed = [rowsFile(manifest), 'episodes.json', ...videoCameras(this.meta).map((c) => `${c.name}.mp4`)];
    for (const file of needed) {
      const bytes = manifest.files[file];
      if (bytes === undefined) return bad(`${MANIFEST} does not list ${file}`);
      const problem = sizeProblem(join(partDir, file), bytes);
      if (problem) return bad(problem);
      if (bytes === 0) return bad(`${file} is empty`);
    }
    // A gzipped file of the right length can still be damaged inside: its checksum says so here,
    // where the part can be redone, rather than when resume assembles it.
    try {
      readArrays(join(partDir, rowsFile(manifest)));
    } catch {
      return bad(`${rowsFile(manifest)} unreadable`);
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
      const extras = partExtrasPath(partDir, e.episode_index);
      const bytes = manifest.extras[basename(extras)];
      if (bytes === undefined) return bad(`${MANIFEST} does not list ${basename(extras)}`);
      const problem = sizeProblem(extras, bytes, `extras/${basename(extras)}`);
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
      ...(ep.provenance ? { provenance: ep.provenance } : {}),
      collisions: ep.collisions,
      // Static body facts only; per-frame tracks are in the binary side file.
      bodies: ep.bodies.map((b) => ({ ...b, positions: [], quaternions: [], velocities: [], angularVelocities: [] })),
    };
    // Per-frame tracks and the final observation (T + 1 formats need it; LeRobot's rows stop at
    // T) go to a binary side file, staged with the part and assembled into few files
    // (extras-files.ts); the JSON sidecar keeps the small per-episode facts.
    const extrasFile = partExtrasPath(part.tmp, this.nextEpisode);
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
    removeOwn(join(this.dir, STAGING));
    return summary;
  }

  entries(): string[] {
    return LEROBOT_ENTRIES;
  }

  /** 4:2:0 video (h264, av1) halves the chroma planes: x264 and libaom refuse odd frame sides, so such a camera is refused here, before anything is written, not by ffmpeg mid-run. */
  check(meta: DatasetMeta): void {
    const codec = meta.run.codec;
    if (CODECS[codec].pixFmt !== 'yuv420p') return;
    const odd = videoCameras(meta).find((c) => c.width % 2 !== 0 || c.height % 2 !== 0);
    if (odd) {
      throw new TrajforgeError('E_USAGE', `camera '${odd.name}' is ${odd.width}x${odd.height}; ${codec} video is 4:2:0, which needs even sides: give the camera an even resolution, or write its video with --codec lossless (RGB, any size)`);
    }
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
    mkdirSync(join(tmp, 'extras'), { recursive: true });
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
    await writeArraysGzipped(join(part.tmp, ROWS), rows);
    writeFileAtomic(join(part.tmp, 'episodes.json'), JSON.stringify(part.episodes));
    const files: Record<string, number> = {};
    for (const file of [ROWS, 'episodes.json', ...[...part.encoders.keys()].map((c) => `${c}.mp4`)]) files[file] = fileBytes(join(part.tmp, file));
    const manifest: PartManifest = { episodes: part.episodes.length, files, extras: part.extras };
    writeFileAtomic(join(part.tmp, MANIFEST), JSON.stringify(manifest));
    const committed = join(this.dir, STAGING, 'parts', `part-${pad5(part.index)}`);
    renameSync(part.tmp, committed);
    this.nextPart++;
    // Records as read back from episodes.json on resume, so both paths assemble the same bytes.
    await this.assembler!.add(committed, rows, JSON.parse(JSON.stringify(part.episodes)) as EpisodeRecord[]);
  }
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
    .filter((d) => COMMITTED_PART.test(d))
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

/** The rows file a part's manifest vouches for. */
function rowsFile(manifest: PartManifest): string {
  return RAW_ROWS in manifest.files && !(ROWS in manifest.files) ? RAW_ROWS : ROWS;
}

function readEpisodes(partDir: string): EpisodeRecord[] {
  return JSON.parse(readFileSync(join(partDir, 'episodes.json'), 'utf8')) as EpisodeRecord[];
}

/** One part's rows as flat arrays: everything the data parquet needs except computed indices. */
function packRows(rows: EpisodeData[], meta: DatasetMeta): Record<string, Float32Array | Uint8Array | Uint16Array | Int32Array> {
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
  const extras = rows.map((r) => episodeExtras(meta, r));
  for (const [i, x] of (meta.extraFeatures ?? []).entries()) out[`extra/${x.key}`] = cat(extras.map((e) => e[i]!.data), Float32Array);
  return out;
}
