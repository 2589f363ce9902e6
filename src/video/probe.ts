/**
 * What a video file holds (size, rate, codec), read from ffmpeg's own description of its input.
 *
 * The bundled ffmpeg (@ffmpeg-installer/ffmpeg) comes without ffprobe, so `ffmpeg -hide_banner -i
 * FILE` with no output is run and its stderr parsed; it exits 1 ("At least one output file must be
 * specified") after printing the input, so the exit code says nothing and only the text counts.
 * The lines read, with the fields this module takes:
 *
 *   Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/clips/a.mp4':
 *     Duration: 00:00:01.00, start: 0.000000, bitrate: 28 kb/s            -> durationSeconds (N/A -> null)
 *       Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 64x48 [SAR 1:1 DAR 4:3],
 *                         18 kb/s, 30 fps, 30 tbr, 15360 tbn, 60 tbc (default)
 *       Metadata:
 *         rotate          : 270
 *       Side data:
 *         displaymatrix: rotation of 90.00 degrees                          -> rotation
 *
 * The stream description is split at the commas outside parentheses and brackets: the first field
 * starts with the codec name, the next one (when it is not the size) is the pixel format (its
 * "(tv, bt709)" tail dropped), `WxH` is the coded size, `[SAR a:b ...]` after it is the codec's
 * sample aspect ratio and a separate `SAR a:b DAR c:d` field the container's, which ffmpeg prefers
 * when it decodes, and so does this module. The rate is the `fps` field (the stream's average rate),
 * else `tbr` (ffmpeg's guess of the base rate). ffmpeg prints rates with two decimals (or none), so a
 * printed 23.98, 29.97, 59.94 ... is the NTSC rate N·1000/1001 it stands for; other rates are taken
 * as printed. The first video stream that is not an attached picture (cover art) is the video.
 *
 * Rotation: ffmpeg rotates decoded frames by the display matrix on its own (for 90° and 270° it
 * transposes them), so `width` and `height` here are the displayed size, which is what decoding
 * yields; `rotation` (clockwise degrees) says what was applied.
 *
 * The frame count is not in ffmpeg's description; `countFrames` counts the stream's packets by
 * copying them (no decoding; one packet is one frame for every codec ffmpeg stores that way,
 * which is all the common ones), else `frames` is null.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TrajforgeError, asIoError, ioCauseIn } from '../core/errors.js';
import { ffmpegPath } from './ffmpeg.js';

export interface VideoInfo {
  /** The file as given. */
  file: string;
  /** Index of the video stream among the file's streams (ffmpeg's `-map 0:<stream>`). */
  stream: number;
  /** Displayed size: the coded size after ffmpeg's automatic rotation. */
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio as width/height of one pixel, 1 when the file says nothing. */
  sar: number;
  /** Clockwise rotation in degrees that ffmpeg applies when decoding (0 when none). */
  rotation: number;
  /** Frames per second (29.97 is 30000/1001); null when the file states no rate. */
  fps: number | null;
  /** ffmpeg's decoder name: h264, hevc, vp9, av1, mjpeg, gif, ... */
  codec: string;
  /** ffmpeg's pixel format name: yuv420p, gbrp, yuvj444p, bgra, ... (null when not stated). */
  pixelFormat: string | null;
  durationSeconds: number | null;
  /** Frame count when counted (`countFrames`), else null. */
  frames: number | null;
}

export interface ProbeOptions {
  /** Count the frames by copying the stream's packets (reads the whole file, decodes nothing). */
  countFrames?: boolean;
}

/** Reads a video file's description; E_VIDEO_INVALID naming the file for anything that is not a readable video. */
export async function probeVideo(file: string, opts: ProbeOptions = {}): Promise<VideoInfo> {
  checkReadableFile(file);
  const stderr = await ffmpegStderr(['-i', ffmpegInput(file)]);
  const info = parseProbe(stderr, file);
  if (opts.countFrames) info.frames = await countPackets(file, info.stream);
  return info;
}

/**
 * The file name as an ffmpeg input: the `file:` protocol keeps names with a colon (`a:b.mp4`) or
 * that look like URLs from being read as a protocol.
 */
export function ffmpegInput(file: string): string {
  return `file:${resolve(file)}`;
}

/** Failures the file system reports before ffmpeg runs, in the terms of reading a video. */
export function checkReadableFile(file: string): void {
  const hint = 'check the path and its permissions';
  let size: number;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new TrajforgeError('E_VIDEO_INVALID', `${file} is a folder, not a video file`, { file });
    size = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TrajforgeError('E_USAGE', `${file}: no such file`, { file });
    throw asIoError(e, file, hint);
  }
  try {
    closeSync(openSync(file, 'r'));
  } catch (e) {
    throw asIoError(e, file, hint);
  }
  if (size === 0) throw new TrajforgeError('E_VIDEO_INVALID', `${file} is empty (0 bytes), not a video`, { file });
}

/** Runs ffmpeg to its end and returns its stderr (the exit code is ignored: `-i` alone always fails). */
function ffmpegStderr(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const proc = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    proc.stderr.on('data', (d: Buffer) => {
      // A description with huge metadata is cut; the streams come first in it.
      if (bytes < 1 << 20) chunks.push(d);
      bytes += d.length;
    });
    proc.on('error', (e) => fail(new TrajforgeError('E_FFMPEG_FAILED', `cannot run ffmpeg: ${e.message}`)));
    proc.on('close', () => done(Buffer.concat(chunks).toString()));
  });
}

async function countPackets(file: string, stream: number): Promise<number | null> {
  const text = await ffmpegStderr(['-i', ffmpegInput(file), '-map', `0:${stream}`, '-c', 'copy', '-f', 'null', '-']);
  const counts = [...text.matchAll(/frame=\s*(\d+)/g)];
  return counts.length > 0 ? Number(counts[counts.length - 1]![1]) : null;
}

/** The last line of ffmpeg's stderr with text in it (its final word on a failure). */
export function lastLine(stderr: string): string {
  const lines = stderr.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/** Splits at commas outside parentheses and brackets. */
function fields(desc: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < desc.length; i++) {
    const c = desc[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(desc.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(desc.slice(start).trim());
  return out;
}

/** A rate as ffmpeg prints it ("29.97", "30", "1k") as a number; NTSC rates back to N·1000/1001. */
export function parseRate(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(k?)$/.exec(text);
  if (!m) return null;
  const v = Number(m[1]) * (m[2] ? 1000 : 1);
  if (!(v > 0)) return null;
  if (Number.isInteger(v)) return v;
  const n = Math.round(v * 1.001);
  return Math.abs(v - n / 1.001) <= 0.005 ? (n * 1000) / 1001 : v;
}

const STREAM_LINE = /^(\s*)Stream #\d+:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (\w+): (.*)$/;

/** VideoInfo from the stderr of `ffmpeg -i FILE` (see the module comment for the format). */
export function parseProbe(stderr: string, file: string): VideoInfo {
  const lines = stderr.split(/\r?\n/);
  if (!lines.some((l) => l.startsWith('Input #0'))) {
    const last = lastLine(stderr);
    const io = ioCauseIn(stderr);
    if (io) throw new TrajforgeError('E_IO', `reading ${file} failed: ${io} (ffmpeg: ${last})`, { file, hint: 'check the path and its permissions' });
    // ffmpeg prefixes its message with the input name, which the error names already.
    const said = last.replace(/^file:[^:]*: /, '');
    throw new TrajforgeError('E_VIDEO_INVALID', `${file} is not a video ffmpeg can read (ffmpeg: ${said || 'no output'})`, { file });
  }
  const duration = /^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/m.exec(stderr);
  const durationSeconds = duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : null;

  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = STREAM_LINE.exec(lines[i]!);
    if (!m) continue;
    const [, indent, index, type, desc] = m as unknown as [string, string, string, string, string];
    found.push(`${type}: ${/^[^\s(,]+/.exec(desc)?.[0] ?? desc}`);
    if (type !== 'Video' || desc.includes('(attached pic)')) continue;
    // The stream's own lines (metadata, side data) follow it at its indentation or deeper.
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s*/.exec(lines[j]!)![0].length >= indent.length && !STREAM_LINE.test(lines[j]!); j++) block.push(lines[j]!);
    return videoInfo(file, Number(index), desc, block, durationSeconds);
  }
  throw new TrajforgeError('E_VIDEO_INVALID', `${file} has no video stream (found: ${found.length > 0 ? found.join('; ') : 'no streams'})`, { file });
}

function videoInfo(file: string, stream: number, desc: string, block: string[], durationSeconds: number | null): VideoInfo {
  const parts = fields(desc);
  const codec = /^[^\s(]+/.exec(parts[0]!)?.[0] ?? 'unknown';
  let width = 0;
  let height = 0;
  let codecSar: number | null = null;
  let containerSar: number | null = null;
  let pixelFormat: string | null = null;
  let fps: number | null = null;
  let tbr: number | null = null;
  for (const [k, f] of parts.entries()) {
    const size = /^(\d+)x(\d+)(?: \[SAR (\d+):(\d+) DAR \d+:\d+\])?/.exec(f);
    if (size && width === 0) {
      width = Number(size[1]);
      height = Number(size[2]);
      if (size[3] && Number(size[3]) > 0 && Number(size[4]) > 0) codecSar = Number(size[3]) / Number(size[4]);
      continue;
    }
    if (k === 1 && width === 0) pixelFormat = /^[\w]+/.exec(f)?.[0] ?? null;
    const sar = /^SAR (\d+):(\d+) DAR/.exec(f);
    if (sar && Number(sar[1]) > 0 && Number(sar[2]) > 0) containerSar = Number(sar[1]) / Number(sar[2]);
    const rate = /^(\S+) (fps|tbr)\b/.exec(f);
    if (rate?.[2] === 'fps') fps = parseRate(rate[1]!);
    else if (rate?.[2] === 'tbr') tbr = parseRate(rate[1]!);
  }
  if (!(width > 0 && height > 0)) throw new TrajforgeError('E_VIDEO_INVALID', `${file}: ffmpeg states no frame size for its video stream (${codec}); the stream cannot be decoded`, { file });
  const rotation = rotationOf(block);
  const sar = containerSar ?? codecSar ?? 1;
  const turned = rotation === 90 || rotation === 270;
  return {
    file,
    stream,
    width: turned ? height : width,
    height: turned ? width : height,
    sar: turned ? 1 / sar : sar,
    rotation,
    fps: fps ?? tbr,
    codec,
    pixelFormat,
    durationSeconds,
    frames: null,
  };
}

/**
 * The clockwise rotation ffmpeg applies: the negated display-matrix angle (which is
 * counter-clockwise), else the legacy `rotate` tag. ffmpeg turns frames only by multiples of 90°
 * near them (within a degree); any other angle it applies with its rotate filter, keeping the size.
 */
function rotationOf(block: string[]): number {
  let degrees: number | null = null;
  for (const l of block) {
    const matrix = /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(l);
    if (matrix) degrees = -Number(matrix[1]);
  }
  if (degrees === null) {
    const tag = block.map((l) => /^\s*rotate\s*: (-?[\d.]+)/.exec(l)).find((m) => m);
    if (tag) degrees = Number(tag[1]);
  }
  if (degrees === null || !Number.isFinite(degrees)) return 0;
  const d = ((degrees % 360) + 360) % 360;
  const quarter = Math.round(d / 90) * 90;
  return Math.abs(d - quarter) < 1 ? quarter % 360 : d;
}
