/**
 * Short clips as ordinary video files, the way other tools hand videos to users: what `label
 * --eval` feeds back into `label` to measure how it copes with codecs it did not write itself.
 * One ffmpeg run per clip with the frames on stdin (clips are episodes: a few MB of rgb at most).
 */
import { spawnSync } from 'node:child_process';
import { TrajforgeError, ioCauseIn } from '../core/errors.js';
import { ffmpegPath } from './ffmpeg.js';

/** Encodings of a clip: what phones, browsers and screen recorders write, plus an exact one. */
export const CLIP_PROFILES = {
  /** H.264 4:2:0 in mp4 at x264's default quality (crf 23): the web's and phones' format. */
  h264: { extension: 'mp4', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast', '-crf', '23', '-f', 'mp4'] },
  /** VP9 4:2:0 in WebM at constant quality 32 (YouTube's and browsers' format). */
  vp9: { extension: 'webm', args: ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p', '-crf', '32', '-b:v', '0', '-deadline', 'good', '-cpu-used', '4', '-f', 'webm'] },
  /** Bit-exact RGB (H.264 RGB profile at qp 0) in mp4. */
  lossless: { extension: 'mp4', args: ['-c:v', 'libx264rgb', '-pix_fmt', 'rgb24', '-preset', 'veryfast', '-qp', '0', '-f', 'mp4'] },
} as const;
export type ClipProfile = keyof typeof CLIP_PROFILES;

/** Writes `count` rgb24 frames of width × height as a video file at `fps` in `profile`. */
export function writeClip(file: string, frames: Uint8Array, count: number, opts: { width: number; height: number; fps: number; profile: ClipProfile }): void {
  const { width, height, fps } = opts;
  if (frames.length < count * width * height * 3) throw new TrajforgeError('E_INTERNAL', `writeClip: ${frames.length} bytes for ${count} frames of ${width}x${height}`);
  // 4:2:0 halves the chroma planes, and x264 and libvpx refuse odd sides: such a clip is scaled
  // up to the next even size, which label resamples back like any other size.
  const subsampled = opts.profile !== 'lossless' && (width % 2 !== 0 || height % 2 !== 0);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', 'pipe:0',
    ...(subsampled ? ['-vf', `scale=${width + (width % 2)}:${height + (height % 2)}:flags=bilinear`] : []),
    ...CLIP_PROFILES[opts.profile].args.slice(0, -2),
    '-threads', '1', '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
    ...CLIP_PROFILES[opts.profile].args.slice(-2),
    file,
  ];
  const r = spawnSync(ffmpegPath(), args, { input: frames.subarray(0, count * width * height * 3), maxBuffer: 1 << 20 });
  if (r.status === 0) return;
  const detail = `${r.error?.message ?? ''} ${r.stderr?.toString().trim() ?? ''}`.trim();
  const io = ioCauseIn(detail);
  if (io) throw new TrajforgeError('E_IO', `writing ${file} failed: ${io} (ffmpeg: ${detail})`, { file });
  throw new TrajforgeError('E_FFMPEG_FAILED', `ffmpeg failed writing ${file}: ${detail}`, { file });
}
