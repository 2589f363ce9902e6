import { readFileSync } from 'node:fs';
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
  writeFileAtomic(file, chunks);
}

export function readArrays(file: string): Record<string, Typed> {
  const buf = readFileSync(file);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const header = JSON.parse(Buffer.from(bytes.subarray(4, 4 + n)).toString()) as Record<string, [Dtype, number, number]>;
  const start = Math.ceil((4 + n) / 8) * 8;
  const out: Record<string, Typed> = {};
  for (const [name, [dtype, off, len]] of Object.entries(header)) out[name] = new CTORS[dtype](bytes.buffer, start + off, len);
  return out;
}
