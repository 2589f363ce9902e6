/**
 * Independent readers from npm for the files the exporters write: npyjs for the arrays inside npz
 * archives, jsfive for HDF5. Nothing here shares code with src/export, so a writer bug cannot be
 * mirrored by its own reader.
 */
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { Dataset, File, Group } from 'jsfive';
import { parse, type NpyArray } from 'npyjs';

function arrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Members of a zip archive from its central directory; numpy writes them stored or deflated. */
export function unzip(file: string): Map<string, Buffer> {
  const buf = readFileSync(file);
  let end = buf.length - 22;
  while (end >= 0 && buf.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${file}: no zip end-of-central-directory record`);
  const members = new Map<string, Buffer>();
  let p = buf.readUInt32LE(end + 16);
  for (let i = buf.readUInt16LE(end + 10); i > 0; i--) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory entry at ${p}`);
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const local = buf.readUInt32LE(p + 42);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(data, data + size);
    if (method !== 0 && method !== 8) throw new Error(`${file}: zip method ${method}`);
    members.set(buf.toString('utf8', p + 46, p + 46 + nameLen), method === 8 ? inflateRawSync(raw) : raw);
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return members;
}

/** An npz file's arrays by key (the member name without .npy), parsed by npyjs. */
export function readNpz(file: string): Record<string, NpyArray> {
  const out: Record<string, NpyArray> = {};
  for (const [name, bytes] of unzip(file)) out[name.replace(/\.npy$/, '')] = parse(arrayBuffer(bytes));
  return out;
}

/**
 * A trajforge LeRobot dataset's sidecar arrays of one episode, found as a reader of the documented
 * layout would: its meta/trajforge_episodes.jsonl line names the file
 * (meta/trajforge_episodes/chunk-CCC/file-FFF.npz, 1000 files a chunk), whose members are
 * `episode_NNNNNN/<key>.npy`.
 */
export function readEpisodeNpz(dir: string, episode: number): Record<string, NpyArray> {
  const line = JSON.parse(readFileSync(`${dir}/meta/trajforge_episodes.jsonl`, 'utf8').trim().split('\n')[episode]!) as { extras_file: number };
  const n = line.extras_file;
  const file = `${dir}/meta/trajforge_episodes/chunk-${String(Math.floor(n / 1000)).padStart(3, '0')}/file-${String(n % 1000).padStart(3, '0')}.npz`;
  const prefix = `episode_${String(episode).padStart(6, '0')}/`;
  const out: Record<string, NpyArray> = {};
  for (const [name, bytes] of unzip(file)) if (name.startsWith(prefix)) out[name.slice(prefix.length).replace(/\.npy$/, '')] = parse(arrayBuffer(bytes));
  return out;
}

/** Typed arrays, npyjs's bool arrays and jsfive's values alike. */
type Values = ArrayBufferView | ArrayLike<number | boolean | bigint>;

/** The rows of a row-major array whose trailing dims multiply to width, as plain numbers. */
export function rows(values: Values, width: number): number[][] {
  const data = values as ArrayLike<number | boolean | bigint>;
  const out: number[][] = [];
  for (let r = 0; r * width < data.length; r++) out.push(Array.from({ length: width }, (_, c) => Number(data[r * width + c])));
  return out;
}

/** The values of an array as plain numbers (booleans as 0/1). */
export function values(values: Values): number[] {
  const data = values as ArrayLike<number | boolean | bigint>;
  return Array.from({ length: data.length }, (_, i) => Number(data[i]));
}

export interface H5Data {
  shape: number[];
  dtype: string;
  value: ArrayLike<number>;
}

/** An HDF5 file opened by jsfive: datasets by path, group keys and attributes. */
export class H5 {
  readonly file: File;
  constructor(path: string) {
    this.file = new File(arrayBuffer(readFileSync(path)), path);
  }
  group(path: string): Group {
    const g = path === '' ? this.file : this.file.get(path);
    if (!(g instanceof Group)) throw new Error(`${path} is not an HDF5 group`);
    return g;
  }
  data(path: string): H5Data {
    const d = this.file.get(path);
    if (!(d instanceof Dataset)) throw new Error(`${path} is not an HDF5 dataset`);
    return { shape: d.shape, dtype: d.dtype, value: d.value };
  }
  /** Every dataset path under a group, sorted. */
  datasets(path = ''): string[] {
    const g = this.group(path);
    return g.keys.flatMap((k) => {
      const p = path ? `${path}/${k}` : k;
      return g.get(k) instanceof Group ? this.datasets(p) : [p];
    }).sort();
  }
}
