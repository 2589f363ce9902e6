import { encode } from 'fast-png';

/** Encodes an 8-bit RGB (or 1-channel / 16-bit) image as PNG bytes. Pure: no file access. */
export function encodePng(width: number, height: number, data: Uint8Array | Uint16Array, channels: 1 | 3 | 4 = 3): Uint8Array {
  return encode({ width, height, data, channels, depth: data instanceof Uint16Array ? 16 : 8 });
}
