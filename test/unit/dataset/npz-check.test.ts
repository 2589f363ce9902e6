/** Archive members are checked against their CRC-32 and size: a damaged array is an error, never other numbers. */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { entryArray, npyBytes, npzBytes, readNpz, zipBytes, zipEntries } from '../../../src/dataset/npz.js';

describe('npz member checks', () => {
  const arr = { dtype: '<f4' as const, shape: [3], data: Float32Array.from([1, 2, 3]) };

  it('reads what it wrote', () => {
    expect(Array.from(readNpz(npzBytes({ a: arr })).a!.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it('a flipped byte in a stored member fails its CRC-32', () => {
    const raw = npyBytes(arr);
    const bad = raw.slice();
    bad[bad.length - 1]! ^= 0x40; // inside the last float: still a well-formed npy
    const [entry] = zipEntries(zipBytes([{ name: 'a.npy', method: 0, crc: crc32(raw), rawSize: raw.length, data: bad }]));
    expect(() => entryArray(entry!)).toThrow(/do not match the archive's size and CRC-32/);
  });

  it('a body shorter than its shape is refused, as is a member that is no npy', () => {
    const short = npyBytes({ dtype: '<f4', shape: [3], data: Float32Array.from([1, 2]) });
    const [entry] = zipEntries(zipBytes([{ name: 'a.npy', method: 0, crc: crc32(short), rawSize: short.length, data: short }]));
    expect(() => entryArray(entry!)).toThrow(/holds 8 bytes, shape \(3\) of <f4 needs 12/);
    const junk = new TextEncoder().encode('hello world, not an array');
    const [other] = zipEntries(zipBytes([{ name: 'b.npy', method: 0, crc: crc32(junk), rawSize: junk.length, data: junk }]));
    expect(() => entryArray(other!)).toThrow(/not an npy array/);
  });
});
