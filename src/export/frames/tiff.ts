/**
 * Minimal baseline TIFF writer for one float32 channel (what Kubric uses for depth): little-endian,
 * uncompressed, one strip, SampleFormat = IEEE float. Pure bytes, no file access.
 */
export function encodeFloatTiff(width: number, height: number, data: Float32Array): Uint8Array {
  const entries: [tag: number, type: number, count: number, value: number][] = [];
  const HEADER = 8;
  const tags = 10;
  const ifdSize = 2 + tags * 12 + 4;
  const dataOffset = HEADER + ifdSize;
  const bytes = width * height * 4;
  entries.push(
    [256, 4, 1, width], // ImageWidth (LONG)
    [257, 4, 1, height], // ImageLength
    [258, 3, 1, 32], // BitsPerSample
    [259, 3, 1, 1], // Compression: none
    [262, 3, 1, 1], // Photometric: BlackIsZero
    [273, 4, 1, dataOffset], // StripOffsets
    [277, 3, 1, 1], // SamplesPerPixel
    [278, 4, 1, height], // RowsPerStrip
    [279, 4, 1, bytes], // StripByteCounts
    [339, 3, 1, 3], // SampleFormat: IEEE floating point
  );
  const out = new Uint8Array(dataOffset + bytes);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0], 0); // "II*\0"
  dv.setUint32(4, HEADER, true);
  dv.setUint16(HEADER, tags, true);
  entries.forEach(([tag, type, count, value], i) => {
    const o = HEADER + 2 + i * 12;
    dv.setUint16(o, tag, true);
    dv.setUint16(o + 2, type, true);
    dv.setUint32(o + 4, count, true);
    if (type === 3) dv.setUint16(o + 8, value, true);
    else dv.setUint32(o + 8, value, true);
  });
  dv.setUint32(HEADER + 2 + tags * 12, 0, true); // no next IFD
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dataOffset);
  return out;
}
