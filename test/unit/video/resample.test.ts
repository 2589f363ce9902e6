import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath, runFfmpeg } from '../../../src/video/ffmpeg.js';
import { openResampled, readResampled, resampleGeometry, type Fit } from '../../../src/video/resample.js';
import { tmpDir } from '../../helpers/dataset.js';
import { BLUE, GREY, RED, failure, ffmpegChildren, frameNumbers, markerFrames, numberedFrames, pixel, writeVideo } from './clips.js';

/** The module's stated rule for a constant-rate source of S fps and N frames resampled to F fps. */
function ruleIndices(S: number, F: number, N: number): number[] {
  return Array.from({ length: Math.round((N * F) / S) }, (_, k) => Math.ceil(((k + 0.5) * S) / F) - 1);
}

function near(actual: number[], expected: number[], tolerance: number | number[]): void {
  actual.forEach((v, c) => expect(Math.abs(v - expected[c]!), `channel ${c}: ${actual} vs ${expected}`).toBeLessThanOrEqual(typeof tolerance === 'number' ? tolerance : tolerance[c]!));
}

let dir: string;
beforeAll(() => {
  dir = tmpDir('tf-resample-');
});

describe('time: output frame k = source frame ceil((k + 1/2)·S/F) - 1', () => {
  it('the rule itself, spelled out', () => {
    expect(ruleIndices(30, 20, 9)).toEqual([0, 2, 3, 5, 6, 8]);
    expect(ruleIndices(25, 20, 10)).toEqual([0, 1, 3, 4, 5, 6, 8, 9]);
    expect(ruleIndices(10, 20, 3)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it.each([
    [30, 20, 45],
    [25, 20, 40],
    [10, 20, 12],
    [24, 30, 20],
  ])('%i -> %i fps over %i frames (lossless source, exact frames)', async (S, F, N) => {
    const file = await writeVideo(join(dir, `n${S}.mp4`), numberedFrames(N, 16, 16), { width: 16, height: 16, fps: S, encoding: 'mp4-x264rgb' });
    const r = await readResampled(file, { width: 16, height: 16, fps: F, fit: 'stretch' });
    expect(r.frames).toBe(Math.round((N * F) / S));
    expect(frameNumbers(r.data, 16, 16)).toEqual(ruleIndices(S, F, N));
    // Every frame is the source frame untouched (same size, lossless source).
    expect(Buffer.from(r.data).equals(Buffer.from(numberedFramesAt(ruleIndices(S, F, N), 16, 16)))).toBe(true);
  });

  it('fps null keeps every frame; start and frames cut a time range', async () => {
    const file = await writeVideo(join(dir, 'n25.mp4'), numberedFrames(40, 16, 16), { width: 16, height: 16, fps: 25, encoding: 'mp4-x264rgb' });
    const all = await readResampled(file, { width: 16, height: 16, fps: null, fit: 'stretch' });
    expect(frameNumbers(all.data, 16, 16)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(all.fps).toBe(25);
    // Frame 10 starts at 0.4 s; times count from it, so the rule applies to frames 10, 11, ...
    const part = await readResampled(file, { width: 16, height: 16, fps: 20, fit: 'stretch', start: 10 / 25, frames: 8 });
    expect(frameNumbers(part.data, 16, 16)).toEqual(ruleIndices(25, 20, 30).slice(0, 8).map((i) => i + 10));
  });

  it('batches cover the frames in order with the requested size', async () => {
    const file = await writeVideo(join(dir, 'b30.mp4'), numberedFrames(30, 16, 16), { width: 16, height: 16, fps: 30, encoding: 'mp4-x264rgb' });
    const seen: [number, number][] = [];
    const numbers: number[] = [];
    for await (const b of openResampled(file, { width: 16, height: 16, fps: 20, fit: 'stretch', batchFrames: 6 })) {
      seen.push([b.first, b.count]);
      expect(b.data.length).toBe(b.count * 16 * 16 * 3);
      numbers.push(...frameNumbers(b.data, 16, 16));
    }
    expect(seen).toEqual([
      [0, 6],
      [6, 6],
      [12, 6],
      [18, 2],
    ]);
    expect(numbers).toEqual(ruleIndices(30, 20, 30));
  });
});

function numberedFramesAt(indices: number[], w: number, h: number): Uint8Array {
  const all = numberedFrames(Math.max(...indices) + 1, w, h);
  const out = new Uint8Array(indices.length * w * h * 3);
  indices.forEach((i, k) => out.set(all.subarray(i * w * h * 3, (i + 1) * w * h * 3), k * w * h * 3));
  return out;
}

describe('space: crop, stretch, pad of a 64×48 source to 32×32', () => {
  it('geometry', () => {
    const src = { width: 64, height: 48, sar: 1 };
    expect(resampleGeometry(src, { width: 32, height: 32 }, 'crop')).toEqual({ crop: { x: 8, y: 0, width: 48, height: 48 }, scale: { width: 32, height: 32 }, pad: null, flags: 'area' });
    expect(resampleGeometry(src, { width: 32, height: 32 }, 'stretch')).toEqual({ crop: null, scale: { width: 32, height: 32 }, pad: null, flags: 'area' });
    expect(resampleGeometry(src, { width: 32, height: 32 }, 'pad')).toEqual({ crop: null, scale: { width: 32, height: 24 }, pad: { x: 0, y: 4 }, flags: 'area' });
    // A tall target crops the width; enlarging is bicubic; a pixel aspect of 2 makes 64×48 look 128×48.
    expect(resampleGeometry(src, { width: 30, height: 60 }, 'crop')).toEqual({ crop: { x: 20, y: 0, width: 24, height: 48 }, scale: { width: 30, height: 60 }, pad: null, flags: 'bicubic' });
    expect(resampleGeometry({ width: 64, height: 48, sar: 2 }, { width: 64, height: 32 }, 'crop')).toEqual({ crop: { x: 8, y: 0, width: 48, height: 48 }, scale: { width: 64, height: 32 }, pad: null, flags: 'bicubic' });
    expect(resampleGeometry({ width: 64, height: 48, sar: 2 }, { width: 64, height: 64 }, 'pad')).toEqual({ crop: null, scale: { width: 64, height: 24 }, pad: { x: 0, y: 20 }, flags: 'area' });
  });

  const expectations: Record<Fit, [x: number, y: number, rgb: number[]][]> = {
    // The centred 48×48 square scaled by 2/3: the red square covers 0..5.3, blue is cut away.
    crop: [
      [1, 1, RED],
      [4, 4, RED],
      [8, 1, GREY],
      [1, 8, GREY],
      [31, 31, GREY],
      [0, 20, GREY],
    ],
    // x halves, y by 2/3: blue in columns 0..3, red at x 4..7, y 0..5.
    stretch: [
      [1, 10, BLUE],
      [1, 30, BLUE],
      [5, 2, RED],
      [9, 2, GREY],
      [20, 20, GREY],
    ],
    // 32×24 centred: black rows 0..3 and 28..31, blue columns 0..3, red at x 4..7, y 4..7.
    pad: [
      [16, 1, [0, 0, 0]],
      [16, 30, [0, 0, 0]],
      [1, 16, BLUE],
      [5, 5, RED],
      [6, 6, RED],
      [20, 20, GREY],
    ],
  };
  it.each(Object.keys(expectations) as Fit[])('%s puts the marker where the geometry says', async (fit) => {
    const file = join(dir, 'marker.mp4');
    await writeVideo(file, markerFrames(3), { width: 64, height: 48, fps: 30, encoding: 'mp4-x264rgb' });
    const r = await readResampled(file, { width: 32, height: 32, fps: null, fit });
    expect(r.frames).toBe(3);
    for (const [x, y, rgb] of expectations[fit]) near(pixel(r.data, 32, 32, x, y, 2), rgb, 2);
  });

  it('a rotated source is read as displayed (turned 270° clockwise: the red corner goes to the bottom left)', async () => {
    const plain = await writeVideo(join(dir, 'marker-plain.mp4'), markerFrames(3), { width: 64, height: 48, fps: 30, encoding: 'mp4-x264rgb' });
    const turned = join(dir, 'marker-turned.mp4');
    await runFfmpeg(['-y', '-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', turned]);
    const r = await readResampled(turned, { width: 48, height: 64, fps: null, fit: 'stretch' });
    // Source (x, y) -> displayed (y, 63 - x): blue columns become the bottom rows, red sits above them.
    near(pixel(r.data, 48, 64, 20, 62), BLUE, 2);
    near(pixel(r.data, 48, 64, 3, 52), RED, 2);
    near(pixel(r.data, 48, 64, 3, 5), GREY, 2);
  });
});

describe('lossy and other codecs', () => {
  it.each([
    ['mp4-h264', 'mp4'],
    ['webm-vp9', 'webm'],
    ['avi-mjpeg', 'avi'],
    ['gif', 'gif'],
  ] as const)('%s decodes within a tolerance and gives the same bytes twice (on 1 thread and on all)', async (encoding, ext) => {
    const fps = encoding === 'gif' ? 10 : 25;
    const N = 20;
    const file = await writeVideo(join(dir, `lossy-${encoding}.${ext}`), numberedFrames(N, 64, 48), { width: 64, height: 48, fps, encoding });
    const opts = { width: 32, height: 32, fps: 20, fit: 'crop' as const };
    const a = await readResampled(file, opts);
    const b = await readResampled(file, { ...opts, threads: 1 });
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    const indices = ruleIndices(fps, 20, N);
    expect(a.frames).toBe(indices.length);
    // Solid colours survive 4:2:0 closely, so the centre pixel of each frame names it; ffmpeg's GIF
    // encoder quantises to 3-3-2-bit RGB (steps of 36, 36 and 85) with dithering: colours within half a step.
    const tolerance = encoding === 'gif' ? [20, 20, 45] : 4;
    indices.forEach((i, k) => near(pixel(a.data, 32, 32, 16, 16, k), [i, 255 - i, 100 + (i % 50)], tolerance));
  });
});

describe('errors', () => {
  const saved = process.env.FFMPEG_PATH;
  afterEach(() => {
    if (saved === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = saved;
  });

  it('an empty file, a text file named .mp4 and a one-frame video are E_VIDEO_INVALID naming the file', async () => {
    const empty = join(dir, 'empty.mp4');
    writeFileSync(empty, '');
    const text = join(dir, 'text.mp4');
    writeFileSync(text, 'not a video\n');
    const opts = { width: 16, height: 16, fps: 20 };
    for (const f of [empty, text]) {
      const e = await failure(readResampled(f, opts));
      expect(e.code).toBe('E_VIDEO_INVALID');
      expect(e.message).toContain(f);
    }
    const one = await writeVideo(join(dir, 'one.mp4'), numberedFrames(1, 16, 16), { width: 16, height: 16, fps: 30, encoding: 'mp4-h264' });
    const e = await failure(readResampled(one, opts));
    expect(e.code).toBe('E_VIDEO_INVALID');
    expect(e.message).toBe(`${one} yields 1 frame resampled to 20 fps (source: 1 frame of 16×16 h264 at 30 fps); at least 2 frames are needed`);
    // Two source frames at 30 fps are 1.3 frames at 20: one after rounding.
    const two = await writeVideo(join(dir, 'two.mp4'), numberedFrames(2, 16, 16), { width: 16, height: 16, fps: 30, encoding: 'mp4-h264' });
    expect((await failure(readResampled(two, opts))).message).toMatch(/yields 1 frame resampled to 20 fps \(source: 2 frames/);
    expect((await readResampled(two, { ...opts, fps: null })).frames).toBe(2);
  });

  it('bad options are E_USAGE', () => {
    expect(() => openResampled('x.mp4', { width: 0, height: 16, fps: 20 })).toThrow(/output size must be positive integers/);
    expect(() => openResampled('x.mp4', { width: 16, height: 16, fps: -1 })).toThrow(/fps must be a positive number or null/);
    expect(() => openResampled('x.mp4', { width: 16, height: 16, fps: 20, fit: 'zoom' as Fit })).toThrow(/fit must be one of crop, stretch, pad/);
    expect(() => openResampled('x.mp4', { width: 16, height: 16, fps: 20, batchFrames: 1 })).toThrow(/batchFrames must be an integer >= 2/);
  });

  it('ffmpeg failing after its frames is E_FFMPEG_FAILED with its last stderr line', async () => {
    const file = await writeVideo(join(dir, 'fails.mp4'), numberedFrames(10, 16, 16), { width: 16, height: 16, fps: 30, encoding: 'mp4-h264' });
    const wrapper = join(dir, 'ffmpeg-that-fails');
    writeFileSync(wrapper, `#!/bin/sh\n"${ffmpegPath()}" "$@"\necho "[decoder] simulated failure: stream ended" >&2\nexit 1\n`);
    chmodSync(wrapper, 0o755);
    process.env.FFMPEG_PATH = wrapper;
    const e = await failure(readResampled(file, { width: 16, height: 16, fps: 20 }));
    expect(e.code).toBe('E_FFMPEG_FAILED');
    expect(e.message).toBe(`ffmpeg failed reading ${file} after 7 frames (exit 1): [decoder] simulated failure: stream ended`);
  });

  it.skipIf(process.platform !== 'linux')('stopping the iteration early kills ffmpeg and leaves no zombie', async () => {
    // ~2.8 MB of output: far more than the pipe holds, so ffmpeg is still writing when the loop stops.
    const file = await writeVideo(join(dir, 'long.mp4'), numberedFrames(200, 64, 48), { width: 64, height: 48, fps: 30, encoding: 'mp4-h264' });
    const video = openResampled(file, { width: 64, height: 48, fps: null, batchFrames: 2 });
    let batches = 0;
    for await (const b of video) {
      expect(b.count).toBe(2);
      expect(ffmpegChildren()).toHaveLength(1);
      if (++batches === 2) break;
    }
    expect(ffmpegChildren()).toEqual([]);
    // close() ends one that is mid-iteration too.
    const it = video[Symbol.asyncIterator]();
    await it.next();
    expect(ffmpegChildren()).toHaveLength(1);
    await video.close();
    expect(ffmpegChildren()).toEqual([]);
    await it.return();
    // An iteration that is waiting for frames when close() comes ends quietly with what was read.
    const frames: number[] = [];
    const loop = (async () => {
      for await (const b of video) frames.push(b.count);
    })();
    while (frames.length === 0) await new Promise((r) => setTimeout(r, 5));
    await video.close();
    await loop;
    expect(frames.length).toBeLessThan(100);
    expect(ffmpegChildren()).toEqual([]);
  });
});
