/** Source clips with known content for the probe / resample tests, written by the project's own ffmpeg. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { runFfmpeg } from '../../../src/video/ffmpeg.js';

/** Encoder arguments per container / codec (all from rgb24 frames on stdin). */
export const ENCODINGS = {
  'mp4-h264': ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast', '-crf', '12', '-bf', '0', '-f', 'mp4'],
  'mp4-x264rgb': ['-c:v', 'libx264rgb', '-pix_fmt', 'rgb24', '-preset', 'veryfast', '-qp', '0', '-bf', '0', '-f', 'mp4'],
  'webm-vp9': ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p', '-crf', '10', '-b:v', '0', '-deadline', 'realtime', '-cpu-used', '8', '-f', 'webm'],
  'avi-mjpeg': ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '2', '-f', 'avi'],
  'gif': ['-c:v', 'gif', '-f', 'gif'],
  'mkv-ffv1': ['-c:v', 'ffv1', '-pix_fmt', 'bgr0', '-f', 'matroska'],
} as const;
export type Encoding = keyof typeof ENCODINGS;

/** Writes rgb24 frames (width × height, `fps` may be a ratio like "30000/1001") as a video file. */
export async function writeVideo(file: string, frames: Uint8Array, opts: { width: number; height: number; fps: number | string; encoding: Encoding; extra?: string[] }): Promise<string> {
  await runFfmpeg(['-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${opts.width}x${opts.height}`, '-framerate', String(opts.fps), '-i', 'pipe:0', '-threads', '1', ...(opts.extra ?? []), ...ENCODINGS[opts.encoding], file], frames);
  return file;
}

/** Frame i is one solid colour that names it: (i, 255 - i, 100 + i % 50); i < 256. */
export function numberedFrames(n: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(n * width * height * 3);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < width * height; p++) out.set([i, 255 - i, 100 + (i % 50)], (i * width * height + p) * 3);
  }
  return out;
}

/** Which source frame an output frame shows: its top-left pixel's red value. */
export function frameNumbers(data: Uint8Array, width: number, height: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < data.length; o += width * height * 3) out.push(data[o]!);
  return out;
}

export const GREY = [128, 128, 128];
export const BLUE = [0, 0, 255];
export const RED = [255, 0, 0];

/**
 * 64×48 geometry frames: grey, the leftmost 8 columns blue, a red 8×8 square at x 8..15, y 0..7
 * (the top-left corner of the centred 48×48 square that `crop` keeps).
 */
export function markerFrames(n: number): Uint8Array {
  const w = 64;
  const h = 48;
  const one = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) one.set(x < 8 ? BLUE : x < 16 && y < 8 ? RED : GREY, (y * w + x) * 3);
  }
  const out = new Uint8Array(n * one.length);
  for (let i = 0; i < n; i++) out.set(one, i * one.length);
  return out;
}

export function pixel(data: Uint8Array, width: number, height: number, x: number, y: number, frame = 0): number[] {
  const o = ((frame * height + y) * width + x) * 3;
  return [data[o]!, data[o + 1]!, data[o + 2]!];
}

/** ffmpeg processes that are children of this process, with their state (Z = zombie); Linux only. */
export function ffmpegChildren(): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(join('/proc', name, 'stat'), 'utf8');
    } catch {
      continue;
    }
    const m = /^(\d+) \((.*)\) (\S) (\d+)/.exec(stat);
    if (m && m[2] === 'ffmpeg' && Number(m[4]) === process.pid) out.push({ pid: Number(m[1]), state: m[3]! });
  }
  return out;
}

/** The TrajforgeError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<TrajforgeError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TrajforgeError);
  return e as TrajforgeError;
}
