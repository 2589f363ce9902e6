import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createGzip, gunzipSync } from 'node:zlib';
import { writeFileAtomic } from '../output/atomic.js';

/**
 * A minimal named-typed-array container for staging files: a little-endian u32 header length,
 * a JSON header {name: [dtype, byteOffset, length]}, then 8-byte aligned raw arrays.
 */
type Typed = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;
const CTORS = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array, u16: Uint16Array } as const;
type Dtype = keyof typeof CTORS;

function dtypeOf(a: Typed): Dtype {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint16Array) return 'u16';
  return 'u8';
}

export function writeArrays(file: string, arrays: Record<string, Typed>): void {
  writeFileAtomic(file, arrayChunks(arrays));
}

/**
 * The same container gzipped (level 1), for staging files that live as long as a run: a LeRobot
 * part's rows hold its raw depth and segmentation (35 MB for 32 PushCube episodes, 1 MB
 * gzipped at ~1 GB/s), and a run keeps every part until it closes. The compression runs on
 * libuv's thread pool, off the thread that commits.
 */
export async function writeArraysGzipped(file: string, arrays: Record<string, Typed>): Promise<void> {
  // The arrays stream through one gzip member as they are: joining them first copied all of it.
  const gz = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const done = once(gz, 'end');
  for (const chunk of arrayChunks(arrays)) gz.write(chunk);
  gz.end();
  await done;
  writeFileAtomic(file, out);
}

function arrayChunks(arrays: Record<string, Typed>): Uint8Array[] {
  const header: Record<string, [Dtype, number, number]> = {};
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    header[name] = [dtypeOf(a), offset, a.length];
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  const head = Buffer.from(JSON.stringify(header));
  const start = Math.ceil((4 + head.length) / 8) * 8;
  // The arrays are written as they are, each padded to 8 bytes: a part's rows are hundreds of
  // megabytes with image channels, and joining them first was a copy of all of it.
  const first = new Uint8Array(start);
  new DataView(first.buffer).setUint32(0, head.length, true);
  first.set(head, 4);
  const chunks: Uint8Array[] = [first];
  for (const a of Object.values(arrays)) {
    chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const pad = Math.ceil(a.byteLength / 8) * 8 - a.byteLength;
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  return chunks;
}

/** Reads writeArrays' container, or writeArraysGzipped's when the file name ends in `.gz`. */
export function readArrays(file: string): Record<string, Typed> {
  const raw = readFileSync(file);
  const buf = file.endsWith('.gz') ? gunzipSync(raw) : raw;
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const header = JSON.parse(Buffer.from(bytes.subarray(4, 4 + n)).toString()) as Record<string, [Dtype, number, number]>;
  const start = Math.ceil((4 + n) / 8) * 8;
  const out: Record<string, Typed> = {};
  for (const [name, [dtype, off, len]] of Object.entries(header)) out[name] = new CTORS[dtype](bytes.buffer, start + off, len);
  return out;
}
