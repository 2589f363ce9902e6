import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * NumPy .npz writing (what np.savez_compressed produces): a zip archive of .npy arrays, deflated.
 * Zip timestamps are fixed, so equal arrays give byte-equal files.
 */
export type NpyArray = { dtype: '<f4' | '<f8' | '<i4' | '<i8' | '|u1' | '|b1' | '<u2'; shape: number[]; data: ArrayBufferView };

export function npyBytes(a: NpyArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${a.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, ending in \n.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + a.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), total);
  return out;
}

/** One member of a zip archive, compressed as stored (copied between archives without re-deflating). */
export interface ZipEntry {
  name: string;
  /** 8 = deflate, 0 = stored. */
  method: number;
  crc: number;
  rawSize: number;
  data: Uint8Array;
}

/** A zip archive (deflate) of `name.npy` entries. */
export function npzBytes(arrays: Record<string, NpyArray>): Uint8Array {
  return zipBytes(
    Object.entries(arrays).map(([name, arr]) => {
      const raw = npyBytes(arr);
      return { name: `${name}.npy`, method: 8, crc: crc32(raw), rawSize: raw.length, data: deflateRawSync(raw, { level: 6 }) };
    }),
  );
}

/**
 * A zip archive of already-compressed entries (at most 65,535, each under 4 GiB: no zip64).
 * Timestamps are fixed, so equal entries give byte-equal archives.
 */
export function zipBytes(entries: readonly ZipEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const local = zipLocal(e);
    central.push(zipCentral(e, offset));
    parts.push(local, e.data);
    offset += local.length + e.data.length;
  }
  return new Uint8Array(Buffer.concat([...parts, ...central, zipEnd(entries.length, central.reduce((n, c) => n + c.length, 0), offset)]));
}

const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

/** An entry's local file header and name (its data follows). */
export function zipLocal(e: ZipEntry): Uint8Array {
  const fname = Buffer.from(e.name, 'utf8');
  const local = Buffer.alloc(30 + fname.length);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0, 6); // flags
  local.writeUInt16LE(e.method, 8);
  local.writeUInt16LE(0, 10); // time
  local.writeUInt16LE(DOS_DATE, 12);
  local.writeUInt32LE(e.crc, 14);
  local.writeUInt32LE(e.data.length, 18);
  local.writeUInt32LE(e.rawSize, 22);
  local.writeUInt16LE(fname.length, 26);
  local.writeUInt16LE(0, 28);
  fname.copy(local, 30);
  return local;
}

/** An entry's central directory record, its local header at `offset`. */
export function zipCentral(e: ZipEntry, offset: number): Uint8Array {
  if (offset > 0xffffffff) throw new Error(`a zip archive without zip64 holds at most 4 GiB, an entry starts at byte ${offset}`);
  const fname = Buffer.from(e.name, 'utf8');
  const cd = Buffer.alloc(46 + fname.length);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(20, 4); // made by
  cd.writeUInt16LE(20, 6); // needed
  cd.writeUInt16LE(0, 8);
  cd.writeUInt16LE(e.method, 10);
  cd.writeUInt16LE(0, 12);
  cd.writeUInt16LE(DOS_DATE, 14);
  cd.writeUInt32LE(e.crc, 16);
  cd.writeUInt32LE(e.data.length, 20);
  cd.writeUInt32LE(e.rawSize, 24);
  cd.writeUInt16LE(fname.length, 28);
  cd.writeUInt32LE(offset, 42);
  fname.copy(cd, 46);
  return cd;
}

/** The end-of-central-directory record. */
export function zipEnd(count: number, centralBytes: number, centralOffset: number): Uint8Array {
  if (count > 0xffff) throw new Error(`a zip archive without zip64 holds at most 65535 entries, not ${count}`);
  if (centralOffset > 0xffffffff) throw new Error(`a zip archive without zip64 holds at most 4 GiB, not ${centralOffset} bytes`);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(centralBytes, 12);
  end.writeUInt32LE(centralOffset, 16);
  return end;
}

/** The members of a zip archive, still compressed (views into `buf`). */
export function zipEntries(buf: Uint8Array): ZipEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = buf.length - 22;
  while (end >= 0 && dv.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive');
  const count = dv.getUint16(end + 10, true);
  let cd = dv.getUint32(end + 16, true);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (cd + 46 > buf.length || dv.getUint32(cd, true) !== 0x02014b50) throw new Error(`central directory entry ${i} is damaged`);
    const method = dv.getUint16(cd + 10, true);
    const crc = dv.getUint32(cd + 16, true);
    const compSize = dv.getUint32(cd + 20, true);
    const rawSize = dv.getUint32(cd + 24, true);
    const nameLen = dv.getUint16(cd + 28, true);
    const extraLen = dv.getUint16(cd + 30, true);
    const commentLen = dv.getUint16(cd + 32, true);
    const local = dv.getUint32(cd + 42, true);
    const name = Buffer.from(buf.subarray(cd + 46, cd + 46 + nameLen)).toString('utf8');
    if (local + 30 > buf.length) throw new Error(`${name}: data past the end of the archive`);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (dataStart + compSize > buf.length) throw new Error(`${name}: data past the end of the archive`);
    out.push({ name, method, crc, rawSize, data: buf.subarray(dataStart, dataStart + compSize) });
    cd += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** One member's array, checked against the archive's CRC-32 and size (raw deflate carries neither). */
export function entryArray(e: ZipEntry): NpyArray {
  if (e.method !== 8 && e.method !== 0) throw new Error(`${e.name}: compression method ${e.method} (only stored and deflate)`);
  const raw = e.method === 8 ? new Uint8Array(inflateRawSync(e.data)) : e.data;
  if (raw.length !== e.rawSize || crc32(raw) !== e.crc) throw new Error(`${e.name}: its bytes do not match the archive's size and CRC-32 (damaged)`);
  return parseNpy(raw);
}

/** Reads .npz archives written by npzBytes (deflate or stored entries, little-endian arrays). */
export function readNpz(buf: Uint8Array): Record<string, NpyArray> {
  const out: Record<string, NpyArray> = {};
  for (const e of zipEntries(buf)) out[e.name.replace(/\.npy$/, '')] = entryArray(e);
  return out;
}

function parseNpy(raw: Uint8Array): NpyArray {
  if (raw.length < 10 || raw[0] !== 0x93 || String.fromCharCode(...raw.subarray(1, 6)) !== 'NUMPY') throw new Error('not an npy array (no \\x93NUMPY magic)');
  const headerLen = new DataView(raw.buffer, raw.byteOffset).getUint16(8, true);
  const header = Buffer.from(raw.subarray(10, 10 + headerLen)).toString('latin1');
  const descr = /'descr': '([^']+)'/.exec(header)?.[1] as NpyArray['dtype'] | undefined;
  const shapeText = /'shape': \(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw new Error(`npy header without descr or shape: ${header.slice(0, 80)}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = raw.slice(10 + headerLen);
  const ctor = { '<f4': Float32Array, '<f8': Float64Array, '<i4': Int32Array, '<i8': BigInt64Array, '|u1': Uint8Array, '|b1': Uint8Array, '<u2': Uint16Array }[descr];
  if (!ctor) throw new Error(`unsupported npy dtype ${descr}`);
  const count = shape.reduce((n, d) => n * d, 1);
  if (body.byteLength !== count * ctor.BYTES_PER_ELEMENT) throw new Error(`npy body holds ${body.byteLength} bytes, shape (${shape.join(', ')}) of ${descr} needs ${count * ctor.BYTES_PER_ELEMENT}`);
  return { dtype: descr, shape, data: new ctor(body.buffer, body.byteOffset, count) };
}
