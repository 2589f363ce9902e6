/**
 * Any video ffmpeg reads, as rgb24 frames of a fixed size W×H at a fixed rate F: the input of a
 * world model (`trajforge label`, `dream --from-video`), streamed in batches so that an hour of
 * video never sits in memory.
 *
 * Time (ffmpeg's `fps=F:round=near` filter, checked frame by frame in the tests): each source
 * frame's timestamp, measured from the first frame's, is rounded to the nearest output tick k/F
 * (halves away from zero); output frame k is the last source frame whose rounded tick is <= k, and
 * the output ends at tick round(end·F), `end` being the last source frame's end time. For a
 * constant-rate source of S fps and N frames this is
 *
 *   output frame k = source frame ceil((k + 1/2)·S/F) - 1,   k = 0 .. round(N·F/S) - 1,
 *
 * the source frame on screen at the middle of output frame k's interval (at an exact tie the
 * earlier one). 30 -> 20 fps takes frames 0, 2, 3, 5, 6, ...; 25 -> 20 takes 0, 1, 3, 4, 5, 6, 8,
 * ...; 10 -> 20 shows each frame twice. (It is not round(k·S/F): 10 -> 20 would then start
 * 0, 1, 1, 2.) `fps: null` keeps every decoded frame as it comes (the source's own rate, variable
 * or not).
 *
 * Space, for a source of displayed size w×h with sample aspect ratio `sar` (after ffmpeg's
 * automatic rotation, see probe.ts), aspect a = w·sar/h against the output's A = W/H:
 * - `crop` (default): the largest centred region with the output's aspect is cut out of the source
 *   (a > A: full height, width round(h·A/sar); else full width, height round(w·sar/A); offsets
 *   floor((w - cw)/2), floor((h - ch)/2)) and scaled to W×H. This is "scale to cover W×H, then
 *   centre-crop", with the crop done first, in whole source pixels, so no intermediate size is
 *   rounded and fewer pixels are scaled.
 * - `stretch`: the whole source scaled to W×H, aspect ignored.
 * - `pad`: the whole source scaled to fit inside W×H keeping its aspect (a > A: W × round(W/a),
 *   else round(H·a) × H), centred (offsets rounded down) on black.
 * Scaling uses area averaging (swscale `area`) when the output is no larger than the region in
 * either direction, so every source pixel counts and nothing aliases; otherwise bicubic, which is
 * sharper than bilinear when enlarging and is what most tools use. YUV sources convert with the
 * colour matrix and range the file states (BT.601 limited range when it states none).
 *
 * Determinism: the same file gives the same bytes on every run: decoders are bit-exact whatever
 * their thread count, `-flags:v +bitexact` makes the few that are not by default (MPEG-4 part 2,
 * MJPEG IDCTs) use their exact paths, and swscale runs with `bitexact` and `accurate_rnd`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TrajforgeError, ioCauseIn } from '../core/errors.js';
import { ffmpegPath } from './ffmpeg.js';
import { ffmpegInput, lastLine, probeVideo, type VideoInfo } from './probe.js';

export const FITS = ['crop', 'stretch', 'pad'] as const;
export type Fit = (typeof FITS)[number];

export interface ResampleOptions {
  width: number;
  height: number;
  /** Output frames per second; null keeps the source's frames as they are. */
  fps: number | null;
  fit?: Fit;
  /**
   * Seconds into the file where reading starts (default 0): the first output frame is the first
   * source frame at or after it (to the microsecond), and times are counted from that frame. For
   * an episode inside a longer file, such as a LeRobot dataset's concatenated videos.
   */
  start?: number;
  /** At most this many output frames (default: to the end). */
  frames?: number;
  /** Frames per batch (>= 2; default: 32, fewer for large frames so a batch stays near 16 MiB). */
  batchFrames?: number;
  /** ffmpeg's decoding threads (default: ffmpeg's choice, one per core); the bytes do not depend on it. */
  threads?: number;
}

/** `count` consecutive output frames starting at frame `first`: count × height × width × 3 bytes, rgb24. */
export interface FrameBatch {
  first: number;
  count: number;
  data: Uint8Array;
}

export interface Geometry {
  /** Source region that is kept (null: all of it). */
  crop: { x: number; y: number; width: number; height: number } | null;
  /** Size the region is scaled to. */
  scale: { width: number; height: number };
  /** Where the scaled picture sits on the black W×H canvas (null: it fills it). */
  pad: { x: number; y: number } | null;
  flags: 'area' | 'bicubic';
}

/** The crop / scale / pad that map a w×h source (pixel aspect `sar`) onto W×H by `fit` (rule in the module comment). */
export function resampleGeometry(src: { width: number; height: number; sar: number }, out: { width: number; height: number }, fit: Fit): Geometry {
  const { width: w, height: h } = src;
  const { width: W, height: H } = out;
  const sar = src.sar > 0 && Number.isFinite(src.sar) ? src.sar : 1;
  const a = (w * sar) / h;
  const A = W / H;
  const clamp = (v: number, max: number) => Math.min(max, Math.max(1, Math.round(v)));
  const flags = (rw: number, rh: number, sw: number, sh: number): Geometry['flags'] => (sw <= rw && sh <= rh ? 'area' : 'bicubic');
  if (fit === 'crop') {
    const cw = a > A ? clamp((h * A) / sar, w) : w;
    const ch = a > A ? h : clamp((w * sar) / A, h);
    const crop = cw === w && ch === h ? null : { x: Math.floor((w - cw) / 2), y: Math.floor((h - ch) / 2), width: cw, height: ch };
    return { crop, scale: { width: W, height: H }, pad: null, flags: flags(cw, ch, W, H) };
  }
  if (fit === 'stretch') return { crop: null, scale: { width: W, height: H }, pad: null, flags: flags(w, h, W, H) };
  const sw = a > A ? W : clamp(H * a, W);
  const sh = a > A ? clamp(W / a, H) : H;
  const pad = sw === W && sh === H ? null : { x: Math.floor((W - sw) / 2), y: Math.floor((H - sh) / 2) };
  return { crop: null, scale: { width: sw, height: sh }, pad, flags: flags(w, h, sw, sh) };
}

/** The ffmpeg filter graph: rate, then crop, scale to rgb24, pad (the rate goes last when it duplicates frames, so copies are not scaled twice). */
export function filterGraph(g: Geometry, out: { width: number; height: number }, fps: number | null, sourceFps: number | null): string {
  const space: string[] = [];
  if (g.crop) space.push(`crop=${g.crop.width}:${g.crop.height}:${g.crop.x}:${g.crop.y}:exact=1`);
  space.push(`scale=${g.scale.width}:${g.scale.height}:flags=${g.flags}+accurate_rnd+full_chroma_int+bitexact`, 'format=rgb24');
  if (g.pad) space.push(`pad=${out.width}:${out.height}:${g.pad.x}:${g.pad.y}:black`);
  if (fps === null) return space.join(',');
  const rate = `fps=${fps}:round=near`;
  return (sourceFps !== null && fps > sourceFps ? [...space, rate] : [rate, ...space]).join(',');
}

function checkOptions(file: string, o: ResampleOptions): void {
  const bad = (what: string) => new TrajforgeError('E_USAGE', `reading ${file}: ${what}`);
  if (!(Number.isInteger(o.width) && o.width >= 1 && Number.isInteger(o.height) && o.height >= 1)) throw bad(`output size must be positive integers, got ${o.width}×${o.height}`);
  if (o.fps !== null && !(Number.isFinite(o.fps) && o.fps > 0)) throw bad(`fps must be a positive number or null, got ${o.fps}`);
  if (o.fit !== undefined && !FITS.includes(o.fit)) throw bad(`fit must be one of ${FITS.join(', ')}, got '${String(o.fit)}'`);
  if (o.start !== undefined && !(Number.isFinite(o.start) && o.start >= 0)) throw bad(`start must be a number of seconds >= 0, got ${o.start}`);
  if (o.frames !== undefined && !(Number.isInteger(o.frames) && o.frames >= 2)) throw bad(`frames must be an integer >= 2, got ${o.frames}`);
  if (o.batchFrames !== undefined && !(Number.isInteger(o.batchFrames) && o.batchFrames >= 2)) throw bad(`batchFrames must be an integer >= 2, got ${o.batchFrames}`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1)) throw bad(`threads must be a positive integer, got ${o.threads}`);
}

/** Running decoders: killed when this process exits, so none outlives it. */
const running = new Set<ChildProcess>();
let exitHook = false;

/** One video read as W×H rgb24 frames at F fps; each iteration runs its own ffmpeg from the start. */
export class ResampledVideo implements AsyncIterable<FrameBatch> {
  readonly fit: Fit;
  readonly frameBytes: number;
  readonly batchFrames: number;
  private readonly procs = new Set<ChildProcess>();
  private probed: Promise<VideoInfo> | null = null;
  /** Processes ended by close(): their iterations end quietly instead of reporting a killed ffmpeg. */
  private readonly closed = new WeakSet<ChildProcess>();

  constructor(
    readonly file: string,
    readonly options: ResampleOptions,
  ) {
    checkOptions(file, options);
    this.fit = options.fit ?? 'crop';
    this.frameBytes = options.width * options.height * 3;
    this.batchFrames = options.batchFrames ?? Math.max(2, Math.min(32, Math.floor((16 << 20) / this.frameBytes)));
  }

  /** The source's description (probed once, on first use). */
  info(): Promise<VideoInfo> {
    this.probed ??= probeVideo(this.file);
    return this.probed;
  }

  /** Kills any ffmpeg still running for this video and waits until it is gone. */
  async close(): Promise<void> {
    for (const p of this.procs) {
      this.closed.add(p);
      // Frames still buffered in the pipe are dropped with it, so nothing holds the pipe open.
      p.stdout?.destroy();
    }
    await Promise.all([...this.procs].map(kill));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FrameBatch, void, undefined> {
    const info = await this.info();
    const out = { width: this.options.width, height: this.options.height };
    const graph = filterGraph(resampleGeometry(info, out, this.fit), out, this.options.fps, info.fps);
    const threads = this.options.threads ? ['-threads', String(this.options.threads)] : [];
    // Input seeking decodes from the keyframe before `start` and drops the frames before it
    // (ffmpeg's accurate seek); rounding down to whole microseconds keeps the frame at `start`.
    const start = this.options.start ? ['-ss', (Math.floor(this.options.start * 1e6) / 1e6).toFixed(6)] : [];
    const limit = this.options.frames !== undefined ? ['-frames:v', String(this.options.frames)] : [];
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', ...threads, '-flags:v', '+bitexact', ...start, '-i', ffmpegInput(this.file), '-map', `0:${info.stream}`, '-vf', graph, ...limit, '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const c of running) c.kill('SIGKILL');
      });
    }
    const proc = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    this.procs.add(proc);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let spawnError: Error | null = null;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      proc.once('error', (e) => {
        spawnError = e;
        done({ code: null, signal: null });
      });
      proc.once('close', (code, signal) => done({ code, signal }));
    });
    exited.then(() => {
      running.delete(proc);
      this.procs.delete(proc);
    });

    const batchBytes = this.batchFrames * this.frameBytes;
    let batch = new Uint8Array(batchBytes);
    let filled = 0;
    let first = 0;
    try {
      try {
        for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
          for (let at = 0; at < chunk.length; ) {
            const n = Math.min(chunk.length - at, batchBytes - filled);
            batch.set(chunk.subarray(at, at + n), filled);
            filled += n;
            at += n;
            if (filled === batchBytes) {
              yield { first, count: this.batchFrames, data: batch };
              first += this.batchFrames;
              batch = new Uint8Array(batchBytes);
              filled = 0;
            }
          }
        }
      } catch (e) {
        // close() destroys the pipe under a running loop: that iteration just ends.
        if (this.closed.has(proc)) return;
        throw e;
      }
      const { code, signal } = await exited;
      if (this.closed.has(proc)) return;
      if (spawnError) throw new TrajforgeError('E_FFMPEG_FAILED', `cannot run ffmpeg to read ${this.file}: ${(spawnError as Error).message}`);
      if (code !== 0) {
        const said = lastLine(stderr);
        const io = ioCauseIn(stderr);
        if (io) throw new TrajforgeError('E_IO', `reading ${this.file} failed after ${first + Math.floor(filled / this.frameBytes)} frames: ${io} (ffmpeg: ${said})`, { file: this.file });
        throw new TrajforgeError('E_FFMPEG_FAILED', `ffmpeg failed reading ${this.file} after ${first + Math.floor(filled / this.frameBytes)} frames (${signal ? `signal ${signal}` : `exit ${code}`}): ${said || 'no message'}`, { file: this.file });
      }
      if (filled % this.frameBytes !== 0) throw new TrajforgeError('E_FFMPEG_FAILED', `ffmpeg's output for ${this.file} ends inside a frame (${filled % this.frameBytes} of ${this.frameBytes} bytes)`, { file: this.file });
      const count = filled / this.frameBytes;
      const total = first + count;
      if (total < 2) throw await this.tooShort(info, total, stderr);
      if (count > 0) yield { first, count, data: batch.subarray(0, filled) };
    } finally {
      // An early return() or a throw leaves ffmpeg writing into a pipe no one reads: end it and reap it.
      await kill(proc);
    }
  }

  private async tooShort(info: VideoInfo, total: number, stderr: string): Promise<TrajforgeError> {
    const counted = await probeVideo(this.file, { countFrames: true }).then(
      (i) => i.frames,
      () => null,
    );
    const source = `${counted ?? 'unknown number of'} frame${counted === 1 ? '' : 's'} of ${info.width}×${info.height} ${info.codec}${info.fps ? ` at ${+info.fps.toFixed(3)} fps` : ''}`;
    const rate = `${this.options.fps === null ? 'at its own rate' : `resampled to ${this.options.fps} fps`}${this.options.start ? ` from ${this.options.start} s` : ''}`;
    const said = lastLine(stderr);
    return new TrajforgeError('E_VIDEO_INVALID', `${this.file} yields ${total} frame${total === 1 ? '' : 's'} ${rate} (source: ${source})${said ? ` (ffmpeg: ${said})` : ''}; at least 2 frames are needed`, { file: this.file });
  }
}

/** SIGKILL, resolved once the process has exited and been reaped (no zombie left). */
function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    proc.once('exit', () => done());
    proc.kill('SIGKILL');
  });
}

/**
 * Streams `file` as W×H rgb24 frames at `fps` in batches; stopping the iteration (break, return,
 * a throw in the loop) kills ffmpeg. Fewer than 2 output frames -> E_VIDEO_INVALID.
 */
export function openResampled(file: string, options: ResampleOptions): ResampledVideo {
  return new ResampledVideo(file, options);
}

export interface ResampledFrames {
  frames: number;
  width: number;
  height: number;
  /** The output rate (the source's when `fps` was null; null when it states none). */
  fps: number | null;
  /** frames × height × width × 3 bytes, rgb24. */
  data: Uint8Array;
  source: VideoInfo;
}

/** All frames of a short clip at once (for long videos iterate openResampled, which holds one batch). */
export async function readResampled(file: string, options: ResampleOptions): Promise<ResampledFrames> {
  const video = openResampled(file, options);
  const batches: Uint8Array[] = [];
  let frames = 0;
  for await (const b of video) {
    batches.push(b.data);
    frames += b.count;
  }
  const data = new Uint8Array(frames * video.frameBytes);
  let at = 0;
  for (const b of batches) {
    data.set(b, at);
    at += b.length;
  }
  const source = await video.info();
  return { frames, width: options.width, height: options.height, fps: options.fps ?? source.fps, data, source };
}
