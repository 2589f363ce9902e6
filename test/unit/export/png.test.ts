/** The exporters' PNG encoder (frames, RLDS), read back by pngjs (an independent decoder) for every kind it writes. */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { pngBytes } from '../../../src/export/png.js';

describe('pngBytes', () => {
  const W = 7;
  const H = 5;
  for (const [channels, wide] of [[1, false], [1, true], [3, false], [3, true], [4, false], [4, true]] as const) {
    it(`${channels} channel(s), ${wide ? 16 : 8}-bit, decodes to the same samples`, () => {
      const n = W * H * channels;
      const data = wide ? Uint16Array.from({ length: n }, (_, i) => (i * 2654435761) % 65536) : Uint8Array.from({ length: n }, (_, i) => (i * 97) % 256);
      const png = PNG.sync.read(Buffer.from(pngBytes(W, H, data, channels)), { skipRescale: true } as never);
      expect([png.width, png.height, png.depth]).toEqual([W, H, wide ? 16 : 8]);
      // pngjs expands every image to RGBA (gray to r = g = b, alpha 0xffff / 0xff where absent).
      const out = png.data as unknown as ArrayLike<number>;
      for (let p = 0; p < W * H; p++) {
        const want = channels === 1 ? [data[p]!, data[p]!, data[p]!] : Array.from({ length: channels }, (_, c) => data[p * channels + c]!);
        const got = Array.from({ length: channels === 1 ? 3 : channels }, (_, c) => out[p * 4 + c]!);
        expect(got, `pixel ${p}`).toEqual(want);
      }
    });
  }

  it('refuses a buffer whose size does not match the image', () => {
    expect(() => pngBytes(4, 4, new Uint8Array(10), 3)).toThrow(/10 samples for a 4x4x3 image/);
    expect(() => pngBytes(0, 0, new Uint8Array(0), 3)).toThrow(/at least 1x1/);
  });
});
