import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { runFfmpeg } from '../../../src/video/ffmpeg.js';
import { parseProbe, parseRate, probeVideo } from '../../../src/video/probe.js';
import { tmpDir } from '../../helpers/dataset.js';
import { failure, numberedFrames, writeVideo, type Encoding } from './clips.js';

describe('parseProbe (ffmpeg -i stderr)', () => {
  const header = "Input #0, matroska,webm, from 'file:/x/a.mkv':\n  Duration: 00:01:02.50, start: 0.000000, bitrate: 72 kb/s\n";

  it('reads size, rate, codec, pixel format and duration; the container SAR wins over the codec one', () => {
    const text = `${header}    Stream #0:0: Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 720x480 [SAR 1:1 DAR 3:2], SAR 8:9 DAR 4:3, 29.97 fps, 29.97 tbr, 1k tbn, 59.94 tbc (default)\n`;
    const info = parseProbe(text, 'a.mkv');
    expect(info).toMatchObject({ stream: 0, width: 720, height: 480, codec: 'h264', pixelFormat: 'yuv420p', durationSeconds: 62.5, rotation: 0, frames: null });
    expect(info.sar).toBeCloseTo(8 / 9, 12);
    expect(info.fps).toBeCloseTo(30000 / 1001, 12);
  });

  it('skips cover art and audio, falls back to tbr, and turns the size by the display matrix', () => {
    const text = `${header}    Stream #0:0: Video: mjpeg, yuvj420p(pc), 300x300 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn, 90k tbc (attached pic)\n    Stream #0:1(eng): Audio: aac (LC), 48000 Hz, stereo, fltp (default)\n    Stream #0:2[0x1e0]: Video: hevc (Main), yuv420p, 1920x1080 [SAR 4:3 DAR 64:27], 23.98 tbr, 90k tbn\n    Metadata:\n      rotate          : 90\n    Side data:\n      displaymatrix: rotation of -90.00 degrees\n`;
    const info = parseProbe(text, 'a.mkv');
    expect(info).toMatchObject({ stream: 2, codec: 'hevc', width: 1080, height: 1920, rotation: 90 });
    expect(info.sar).toBeCloseTo(3 / 4, 12);
    expect(info.fps).toBeCloseTo(24000 / 1001, 12);
  });

  it('rates as ffmpeg prints them', () => {
    expect(parseRate('25')).toBe(25);
    expect(parseRate('12.5')).toBe(12.5);
    expect(parseRate('59.94')).toBeCloseTo(60000 / 1001, 12);
    expect(parseRate('1k')).toBe(1000);
    expect(parseRate('0')).toBeNull();
  });

  it('says what it found when there is no video stream or no input at all', () => {
    const audio = `${header}    Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 44100 Hz, mono, s16, 705 kb/s\n`;
    expect(() => parseProbe(audio, 'a.wav')).toThrow(/a\.wav has no video stream \(found: Audio: pcm_s16le\)/);
    expect(() => parseProbe('file:/x/b.mp4: Invalid data found when processing input\n', 'b.mp4')).toThrow(/b\.mp4 is not a video ffmpeg can read \(ffmpeg: Invalid data found when processing input\)/);
    const io = (() => {
      try {
        parseProbe('file:/x/c.mp4: Permission denied\n', 'c.mp4');
      } catch (e) {
        return e as TrajforgeError;
      }
    })();
    expect(io?.code).toBe('E_IO');
    expect(io?.message).toMatch(/c\.mp4.*permission denied/);
  });
});

describe('probeVideo on real files', () => {
  let dir: string;
  const W = 64;
  const H = 48;
  beforeAll(() => {
    dir = tmpDir('tf-probe-');
  });

  const cases: [Encoding, string, number, { codec: string; pixelFormat: string; fps: number }][] = [
    ['mp4-h264', 'mp4', 30, { codec: 'h264', pixelFormat: 'yuv420p', fps: 30 }],
    ['mp4-x264rgb', 'mp4', 30, { codec: 'h264', pixelFormat: 'gbrp', fps: 30 }],
    ['webm-vp9', 'webm', 25, { codec: 'vp9', pixelFormat: 'yuv420p', fps: 25 }],
    ['avi-mjpeg', 'avi', 15, { codec: 'mjpeg', pixelFormat: 'yuvj420p', fps: 15 }],
    ['gif', 'gif', 10, { codec: 'gif', pixelFormat: 'bgra', fps: 10 }],
    ['mkv-ffv1', 'mkv', 24, { codec: 'ffv1', pixelFormat: 'bgr0', fps: 24 }],
  ];
  it.each(cases)('%s', async (encoding, ext, fps, expected) => {
    const n = 20;
    const file = await writeVideo(join(dir, `clip-${encoding}.${ext}`), numberedFrames(n, W, H), { width: W, height: H, fps, encoding });
    const info = await probeVideo(file, { countFrames: true });
    expect(info).toMatchObject({ file, stream: 0, width: W, height: H, sar: 1, rotation: 0, frames: n, ...expected });
    if (encoding === 'gif') expect(info.durationSeconds).toBeNull(); // the gif demuxer states none
    else expect(info.durationSeconds).toBeCloseTo(n / fps, 1);
    expect((await probeVideo(file)).frames).toBeNull();
  });

  it('29.97 fps is 30000/1001; a rotated mp4 reports its displayed size', async () => {
    const ntsc = await writeVideo(join(dir, 'ntsc.mkv'), numberedFrames(6, W, H), { width: W, height: H, fps: '30000/1001', encoding: 'mp4-h264', extra: ['-f', 'matroska'] });
    expect((await probeVideo(ntsc)).fps).toBeCloseTo(30000 / 1001, 12);
    const plain = await writeVideo(join(dir, 'plain.mp4'), numberedFrames(6, W, H), { width: W, height: H, fps: 30, encoding: 'mp4-h264' });
    const turned = join(dir, 'turned.mp4');
    await runFfmpeg(['-y', '-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', turned]);
    // This ffmpeg stores rotate=90 as a display matrix it reads back as 270° clockwise.
    expect(await probeVideo(turned)).toMatchObject({ width: H, height: W, rotation: 270 });
  });

  it('rejects what is not a readable video, naming the file', async () => {
    const empty = join(dir, 'empty.mp4');
    writeFileSync(empty, '');
    let e = await failure(probeVideo(empty));
    expect([e.code, e.message]).toEqual(['E_VIDEO_INVALID', `${empty} is empty (0 bytes), not a video`]);

    const text = join(dir, 'notes.mp4');
    writeFileSync(text, 'these are notes, not a video\n');
    e = await failure(probeVideo(text));
    expect(e.code).toBe('E_VIDEO_INVALID');
    expect(e.message).toBe(`${text} is not a video ffmpeg can read (ffmpeg: Invalid data found when processing input)`);

    const folder = join(dir, 'folder.mp4');
    mkdirSync(folder);
    e = await failure(probeVideo(folder));
    expect([e.code, e.message]).toEqual(['E_VIDEO_INVALID', `${folder} is a folder, not a video file`]);

    const wav = join(dir, 'sound.wav');
    await runFfmpeg(['-y', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', wav], new Uint8Array(1600));
    e = await failure(probeVideo(wav));
    expect(e.code).toBe('E_VIDEO_INVALID');
    expect(e.message).toBe(`${wav} has no video stream (found: Audio: pcm_s16le)`);

    e = await failure(probeVideo(join(dir, 'missing.mp4')));
    expect([e.code, e.message]).toEqual(['E_USAGE', `${join(dir, 'missing.mp4')}: no such file`]);
  });
});
