import { decode, encode } from 'fast-png';

/** Encodes an 8-bit RGB (or 1-channel / 16-bit) image as PNG bytes. Pure: no file access. */
export function encodePng(width: number, height: number, data: Uint8Array | Uint16Array, channels: 1 | 3 | 4 = 3): Uint8Array {
  return encode({ width, height, data, channels, depth: data instanceof Uint16Array ? 16 : 8 });
}

/**
 * Decodes PNG bytes (any colour type and bit depth: grey, grey + alpha, RGB, RGBA, palette;
 * 16-bit samples keep their high byte) to 8-bit RGB, alpha dropped. Throws on bytes that are not
 * a PNG image.
 */
export function decodePngRgb(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const png = decode(bytes);
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const src = png.data;
  const shift = png.depth === 16 ? 8 : 0;
  if (png.palette) {
    // Palette indices, packed below 8 bits per pixel when the depth is 1, 2 or 4.
    const bits = png.depth;
    const rowBytes = Math.ceil((width * bits) / 8);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * bits;
        const index = (src[y * rowBytes + (bit >> 3)]! >> (8 - bits - (bit & 7))) & ((1 << bits) - 1);
        const c = png.palette[index] ?? [0, 0, 0];
        out.set([c[0]!, c[1]!, c[2]!], (y * width + x) * 3);
      }
    }
    return { width, height, data: out };
  }
  const channels = png.channels;
  if (png.depth < 8) {
    // Greyscale below 8 bits: samples packed in each row, scaled to 0-255.
    const bits = png.depth;
    const rowBytes = Math.ceil((width * bits) / 8);
    const scale = 255 / ((1 << bits) - 1);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * bits;
        const v = Math.round((((src[y * rowBytes + (bit >> 3)]! >> (8 - bits - (bit & 7))) & ((1 << bits) - 1)) * scale));
        out.fill(v, (y * width + x) * 3, (y * width + x) * 3 + 3);
      }
    }
    return { width, height, data: out };
  }
  for (let i = 0; i < n; i++) {
    if (channels >= 3) {
      out[i * 3] = src[i * channels]! >> shift;
      out[i * 3 + 1] = src[i * channels + 1]! >> shift;
      out[i * 3 + 2] = src[i * channels + 2]! >> shift;
    } else out.fill(src[i * channels]! >> shift, i * 3, i * 3 + 3);
  }
  return { width, height, data: out };
}
