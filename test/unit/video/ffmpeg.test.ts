import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { VideoConcat, VideoEncoder, concatVideos, decodeVideo, frameTimestamps, type VideoCodec } from '../../../src/video/ffmpeg.js';
import { tmpDir } from '../../helpers/dataset.js';

function frames(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(32 * 24 * 3 * n);
  for (let f = 0; f < n; f++) for (let i = 0; i < 32 * 24 * 3; i++) out[f * 32 * 24 * 3 + i] = (Math.floor(i / 48) * 9 + f * 20 + seed * 60) & 255;
  return out;
}

describe.each(['h264', 'lossless', 'av1'] as VideoCodec[])('%s', (codec) => {
  it('concatenated parts keep pts exactly k/fps and every frame', async () => {
    const dir = tmpDir('tf-ff-');
    const parts: string[] = [];
    const all: Uint8Array[] = [];
    for (const [p, n] of [5, 7, 3].entries()) {
      const file = join(dir, `p${p}.mp4`);
      const e = new VideoEncoder(file, { width: 32, height: 24, fps: 24, codec, gop: 2 });
      const f = frames(n, p);
      all.push(f);
      await e.write(f);
      await e.finish();
      parts.push(file);
    }
    const out = join(dir, 'all.mp4');
    await concatVideos(parts, out, 24, codec, join(dir, 'scratch.tmp'));
    const pts = await frameTimestamps(out);
    expect(pts).toHaveLength(15);
    pts.forEach((t, k) => expect(Math.abs(t - k / 24)).toBeLessThan(1e-9));
    const { rgb, frames: count } = await decodeVideo(out, 32, 24);
    expect(count).toBe(15);
    if (codec === 'lossless') expect(Buffer.from(rgb).equals(Buffer.concat(all))).toBe(true);
  }, 60_000);
});

describe('VideoConcat', () => {
  it('an aborted join removes its scratch file at once, and one started next on the same scratch name is whole', async () => {
    const dir = tmpDir('tf-ff-');
    const parts: string[] = [];
    for (const [p, n] of [4, 6, 5].entries()) {
      const file = join(dir, `p${p}.mp4`);
      const e = new VideoEncoder(file, { width: 32, height: 24, fps: 24, codec: 'lossless', gop: 2 });
      await e.write(frames(n, p));
      await e.finish();
      parts.push(file);
    }
    const scratch = join(dir, 'concat-0.tmp');
    const aborted = new VideoConcat(scratch, 24, 'lossless');
    for (const f of parts) aborted.add(f); // extractions under way when it stops
    aborted.abort();
    expect(existsSync(scratch)).toBe(false);
    const next = new VideoConcat(scratch, 24, 'lossless');
    next.add(parts[1]!);
    next.add(parts[2]!);
    const out = join(dir, 'joined.mp4');
    await next.finish(out);
    const { rgb, frames: count } = await decodeVideo(out, 32, 24);
    expect(count).toBe(11);
    expect(Buffer.from(rgb).equals(Buffer.concat([frames(6, 1), frames(5, 2)]))).toBe(true);
    expect(existsSync(scratch)).toBe(false);
  }, 60_000);
});
