/** Assembly of the final LeRobot layout from committed checkpoint parts. */
import { copyFileSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { zipEntries } from '../../dataset/npz.js';
import { ExtrasFiles, partExtrasPath } from './extras-files.js';
import { join } from 'node:path';
import { VideoConcat } from '../../video/ffmpeg.js';
import { auxColumns, dataColumns, dataPath, episodeStatFeatures, fileAddress, videoCameras, videoKey, videoPath, type Feature } from './format.js';
import { RolloverParquetFiles, type ColumnDef, type TypedColumn } from '../../dataset/parquet.js';
import type { DatasetMeta, DatasetSummary } from '../../dataset/meta.js';
import { MetadataWriter, type EpisodeRecord } from './metadata.js';
import { NumericCollector, addEpisodeStats } from './stats.js';

/**
 * Builds the final layout from committed parts, one part at a time in order: as each part commits
 * during the run (so assembly overlaps simulation instead of following it), and from the staged
 * parts on resume. Videos: parts concatenated (no re-encoding) per camera, a new file past the size
 * threshold. Data: each part's rows appended (the writer forms row groups of up to 2^20 rows), a
 * new file once the uncompressed size passes the threshold. Metadata streams into meta/ and lands
 * last, in finish().
 */
export class Assembler {
  private readonly columns: ColumnDef[];
  private readonly numeric: NumericCollector;
  private readonly metaWriter: MetadataWriter;
  private readonly videos = new Map<string, { index: number; group: string[]; groupBytes: number; file: number; frameInFile: number; concat: VideoConcat | null }>();
  private readonly data: RolloverParquetFiles;
  private readonly extras: ExtrasFiles;

  /** `scratch(i)`: a temporary file the concatenation of camera i's videos may use. */
  constructor(
    private readonly dir: string,
    private readonly meta: DatasetMeta,
    private readonly features: Record<string, Feature>,
    private readonly scratch: (camera: number) => string,
  ) {
    this.columns = dataColumns(features);
    this.numeric = new NumericCollector(features, extraKeys(meta));
    this.metaWriter = new MetadataWriter(dir, meta, features);
    this.data = new RolloverParquetFiles((n) => join(dir, dataPath(...fileAddress(n, meta.run.layout.chunksSize))), meta.run.layout.dataFileMb * 1024 * 1024);
    this.extras = new ExtrasFiles(dir, meta.run.layout);
    for (const [index, cam] of videoCameras(meta).entries()) this.videos.set(cam.name, { index, group: [], groupBytes: 0, file: 0, frameInFile: 0, concat: null });
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
      // A file of one part is that part's video as it is; from the second part on, the parts are
      // joined, each extracted as it arrives (while the run goes on) rather than all at the end.
      if (v.group.length === 2) {
        v.concat = new VideoConcat(this.scratch(v.index), this.meta.fps, this.meta.run.codec);
        v.concat.add(v.group[0]!);
      }
      v.concat?.add(mp4);
      eps.forEach((e, k) => {
        refs[k]![videoKey(cam.name)] = { file: v.file, from_frame: v.frameInFile };
        v.frameInFile += e.length;
      });
    }
    const partBytes = Object.values(arrays).reduce((n, a) => n + a.byteLength, 0);
    const table = partTable(arrays, eps, this.meta, this.features);
    const packed = Object.fromEntries(auxColumns(this.meta).map((a) => [a.key, arrays[a.key] as unknown as ArrayBufferView]));
    // Stats first: the write moves the image columns' buffers to the parquet thread.
    this.numeric.add(table.data, table.rows);
    addEpisodeStats(table.data, eps, this.features, episodeStatFeatures(this.meta, this.features));
    await this.data.write(typedColumns(this.columns, this.features, table.data, table.rows, packed), table.rows, partBytes);
    eps.forEach((e, k) => {
      e.data_file = this.data.file;
      e.video = refs[k]!;
      e.extras_file = this.extras.add(e.episode_index, zipEntries(new Uint8Array(readFileSync(partExtrasPath(part, e.episode_index)))));
      this.metaWriter.add(e);
    });
  }

  async finish(): Promise<DatasetSummary> {
    for (const cam of this.videos.keys()) await this.flushVideo(cam);
    await this.data.finish();
    this.extras.finish();
    return this.metaWriter.finish(this.numeric);
  }

  /** Stops without finishing: the data file being written stays a .tmp (the next run rewrites it). */
  abort(): void {
    this.data.abort();
    this.extras.abort();
    for (const v of this.videos.values()) v.concat?.abort();
  }

  private async flushVideo(camera: string): Promise<void> {
    const v = this.videos.get(camera)!;
    if (v.group.length === 0) return;
    const [chunk, file] = fileAddress(v.file, this.meta.run.layout.chunksSize);
    const out = join(this.dir, videoPath(videoKey(camera), chunk, file));
    mkdirSync(join(out, '..'), { recursive: true });
    if (v.group.length === 1) copyFileSync(v.group[0]!, `${out}.tmp`);
    else await v.concat!.finish(`${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    v.group = [];
    v.concat = null;
    v.groupBytes = 0;
    v.file++;
    v.frameInFile = 0;
  }

}

/** Keys of the extra features (their stats are per dimension however wide they are). */
export function extraKeys(meta: DatasetMeta): string[] {
  return (meta.extraFeatures ?? []).map((x) => x.key);
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

/**
 * The data file columns of one table as typed arrays (what the Arrow writer takes). `packed`
 * columns are already row-major typed arrays of the column's type (a part's image channels) and
 * go in as they are: copying them row by row was the assembler's largest memory traffic.
 */
export function typedColumns(defs: ColumnDef[], features: Record<string, Feature>, data: Record<string, unknown[]>, rows: number, packed: Record<string, ArrayBufferView> = {}): TypedColumn[] {
  return defs.map((def) => {
    const dims = def.form === 'scalar' ? 1 : features[def.name]!.shape[0]!;
    const ready = packed[def.name];
    const Ctor = def.dtype === 'uint16' ? Uint16Array : def.dtype === 'float32' ? Float32Array : null;
    if (ready && Ctor && ready instanceof Ctor && ready.length === rows * dims) return { def, dims, values: ready };
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
