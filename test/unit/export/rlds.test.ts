import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, query, tmpDir } from '../../helpers/dataset.js';

// ---- an independent TFRecord + protobuf reader, written from the specs -------------------

/** Bit-by-bit CRC32C (Castagnoli, reflected 0x82F63B78): no table, unlike the writer. */
function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const masked = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;

function records(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let o = 0; o < buf.length; ) {
    const len = Number(dv.getBigUint64(o, true));
    expect(dv.getUint32(o + 8, true)).toBe(masked(crc32c(buf.subarray(o, o + 8))));
    const data = buf.subarray(o + 12, o + 12 + len);
    expect(dv.getUint32(o + 12 + len, true)).toBe(masked(crc32c(data)));
    out.push(data);
    o += 16 + len;
  }
  return out;
}

/** Generic protobuf: field number -> list of raw values (varint bigint or length-delimited bytes). */
function fields(buf: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const m = new Map<number, (bigint | Uint8Array)[]>();
  let o = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[o++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (o < buf.length) {
    const key = Number(varint());
    const wire = key & 7;
    let v: bigint | Uint8Array;
    if (wire === 0) v = varint();
    else if (wire === 2) {
      const len = Number(varint());
      v = buf.subarray(o, o + len);
      o += len;
    } else throw new Error(`unexpected wire type ${wire}`);
    if (!m.has(key >> 3)) m.set(key >> 3, []);
    m.get(key >> 3)!.push(v);
  }
  return m;
}

type Value = { bytes: Uint8Array[] } | { floats: number[] } | { ints: bigint[] };
function example(buf: Uint8Array): Record<string, Value> {
  const features = fields(fields(buf).get(1)![0] as Uint8Array);
  const out: Record<string, Value> = {};
  for (const entry of features.get(1) ?? []) {
    const e = fields(entry as Uint8Array);
    const key = new TextDecoder().decode(e.get(1)![0] as Uint8Array);
    const feature = fields(e.get(2)![0] as Uint8Array);
    if (feature.has(1)) out[key] = { bytes: (fields(feature.get(1)![0] as Uint8Array).get(1) ?? []) as Uint8Array[] };
    else if (feature.has(2)) {
      const packed = (fields(feature.get(2)![0] as Uint8Array).get(1) ?? [new Uint8Array(0)])[0] as Uint8Array;
      const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
      out[key] = { floats: Array.from({ length: packed.length / 4 }, (_, i) => dv.getFloat32(i * 4, true)) };
    } else {
      const packed = (fields(feature.get(3)![0] as Uint8Array).get(1) ?? [new Uint8Array(0)])[0] as Uint8Array;
      const ints: bigint[] = [];
      let o = 0;
      while (o < packed.length) {
        let v = 0n;
        let shift = 0n;
        for (;;) {
          const b = packed[o++]!;
          v |= BigInt(b & 0x7f) << shift;
          if (!(b & 0x80)) break;
          shift += 7n;
        }
        ints.push(v);
      }
      out[key] = { ints };
    }
  }
  return out;
}

describe('--format rlds', () => {
  let root: string;
  beforeAll(async () => {
    root = join(tmpDir(), 'rl');
    const r = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--out', root, '--format', 'lerobot,rlds', '--workers', '2']);
    expect(r.code, r.err).toBe(0);
  });

  it('writes a TFDS directory whose records pass CRC checks and decode to the LeRobot values', async () => {
    const dir = join(root, 'rlds', 'push_cube', '1.0.0');
    const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8'));
    expect(info).toMatchObject({ name: 'push_cube', version: '1.0.0', splits: [{ name: 'train', shardLengths: ['3'] }] });
    const features = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8'));
    expect(features.featuresDict.features.steps.pythonClassName).toMatch(/dataset_feature.Dataset$/);
    expect(features.featuresDict.features.steps.sequence.length).toBe('-1');
    const recs = records(new Uint8Array(readFileSync(join(dir, 'push_cube-train.tfrecord-00000-of-00001'))));
    expect(recs).toHaveLength(3);
    const rows = await query(`SELECT episode_index AS e, "observation.state" AS s, action AS a, "next.reward" AS r FROM '${join(root, 'lerobot/data/chunk-000/file-000.parquet')}' ORDER BY index`);
    for (const [e, rec] of recs.entries()) {
      const ex = example(rec);
      const ep = rows.filter((r) => Number(r.e) === e);
      const T = ep.length;
      const state = (ex['steps/observation/state'] as { floats: number[] }).floats;
      expect(state).toHaveLength((T + 1) * 12);
      expect(state.slice(0, T * 12)).toEqual(ep.flatMap((r) => r.s as number[]));
      expect((ex['steps/action'] as { floats: number[] }).floats.slice(0, 2 * T)).toEqual(ep.flatMap((r) => r.a as number[]));
      expect((ex['steps/action'] as { floats: number[] }).floats.slice(2 * T)).toEqual([0, 0]);
      expect((ex['steps/reward'] as { floats: number[] }).floats.slice(0, T)).toEqual(ep.map((r) => r.r));
      expect((ex['steps/is_first'] as { ints: bigint[] }).ints.map(Number)).toEqual([1, ...Array(T).fill(0)]);
      expect((ex['steps/is_last'] as { ints: bigint[] }).ints.map(Number)).toEqual([...Array(T).fill(0), 1]);
      expect(Number((ex['steps/is_terminal'] as { ints: bigint[] }).ints[T])).toBe(1);
      const images = (ex['steps/observation/image_top'] as { bytes: Uint8Array[] }).bytes;
      expect(images).toHaveLength(T + 1);
      const png = PNG.sync.read(Buffer.from(images[0]!));
      expect([png.width, png.height]).toEqual([64, 64]);
      expect(Number((ex['episode_metadata/episode_id'] as { ints: bigint[] }).ints[0])).toBe(e);
    }
  });
});
