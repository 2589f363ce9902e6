import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TrajforgeError, ioCauseIn } from '../core/errors.js';
import { removeOwn } from '../output/remove.js';

/**
 * The only module that runs ffmpeg. The binary comes from @ffmpeg-installer/ffmpeg (shipped inside
 * the npm package, nothing downloaded); FFMPEG_PATH overrides it.
 */
export function ffmpegPath(): string {
  const override = process.env.FFMPEG_PATH;
  if (override) {
    if (!existsSync(override)) throw new TrajforgeError('E_FFMPEG_FAILED', `FFMPEG_PATH=${override} does not exist`);
    return override;
  }
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export const CODECS = {
  /** H.264 4:2:0: small files, decoded everywhere (LeRobot accepts it). */
  h264: { args: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast', '-crf', '18', '-bf', '0'], codec: 'h264', pixFmt: 'yuv420p', lossless: false },
  /** AV1 4:2:0 (libaom; LeRobot's default codec family, slower to encode). */
  av1: { args: ['-strict', 'experimental', '-c:v', 'libaom-av1', '-pix_fmt', 'yuv420p', '-cpu-used', '8', '-crf', '30', '-b:v', '0', '-row-mt', '1'], codec: 'av1', pixFmt: 'yuv420p', lossless: false },
  /**
   * Bit-exact RGB. FFV1 would be the classic choice, but the bundled ffmpeg cannot mux FFV1 into
   * mp4 (LeRobot's container), so lossless uses H.264's RGB profile at qp 0, which is exact.
   */
  lossless: { args: ['-c:v', 'libx264rgb', '-pix_fmt', 'rgb24', '-preset', 'veryfast', '-qp', '0', '-bf', '0'], codec: 'h264', pixFmt: 'rgb24', lossless: true },
} as const;
export type VideoCodec = keyof typeof CODECS;

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  codec: VideoCodec;
  /** Keyframe interval (frames). Short GOPs make random access cheap. */
  gop: number;
}

/**
 * One ffmpeg process encoding raw rgb24 frames from stdin into an mp4 at constant frame rate:
 * frame k has pts exactly k / fps (the time base is 1/(1000 fps), so every pts is an integer tick).
 * No B-frames: decode order = presentation order and no edit-list shift, which keeps pts exact
 * when parts are concatenated.
 * `-bitexact` and stripped metadata keep the output byte-identical for identical frames.
 */
export class VideoEncoder {
  private readonly proc: ChildProcess;
  private stderr = '';
  private failure: Error | null = null;
  private readonly exited: Promise<number | null>;
  frames = 0;

  constructor(
    readonly file: string,
    readonly opts: EncoderOptions,
  ) {
    const codec = CODECS[opts.codec];
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${opts.width}x${opts.height}`, '-framerate', String(opts.fps), '-i', 'pipe:0',
      ...codec.args,
      '-g', String(opts.gop), '-keyint_min', String(opts.gop), '-sc_threshold', '0',
      '-threads', '1',
      '-r', String(opts.fps), '-vsync', 'cfr',
      '-video_track_timescale', String(opts.fps * 1000),
      '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact',
      '-f', 'mp4', file,
    ];
    this.proc = spawnFfmpeg(args);
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.stdin!.on('error', (e) => {
      this.failure ??= e;
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (e) => {
        this.failure ??= e;
        resolve(null);
      });
      this.proc.on('close', (code) => resolve(code));
    });
  }

  /** Queues frames (rgb24, any whole number of frames); resolves when ffmpeg has taken them. */
  async write(rgb: Uint8Array): Promise<void> {
    if (this.failure) throw this.error('while encoding');
    const frameBytes = this.opts.width * this.opts.height * 3;
    if (rgb.length % frameBytes !== 0) throw new TrajforgeError('E_INTERNAL', `frame data of ${rgb.length} bytes is not a whole number of ${this.opts.width}x${this.opts.height} frames`);
    this.frames += rgb.length / frameBytes;
    const stdin = this.proc.stdin!;
    if (stdin.write(rgb)) return;
    // ffmpeg that dies (disk full, killed) never drains its stdin: the exit ends the wait too.
    let onDrain!: () => void;
    const drained = new Promise<void>((resolve) => stdin.once('drain', (onDrain = resolve)));
    await Promise.race([drained, this.exited]);
    stdin.off('drain', onDrain);
    if (this.failure || this.proc.exitCode !== null || this.proc.signalCode !== null) throw this.error('while encoding');
  }

  /** Closes stdin and waits for ffmpeg to finish the file. */
  async finish(): Promise<void> {
    this.proc.stdin!.end();
    const code = await this.exited;
    if (code !== 0 || this.failure) throw this.error('finishing');
  }

  abort(): void {
    this.proc.kill('SIGKILL');
  }

  private error(when: string): TrajforgeError {
    const detail = `${this.failure?.message ?? ''} ${this.stderr.trim()}`.trim();
    const io = ioCauseIn(detail);
    if (io) return new TrajforgeError('E_IO', `writing ${this.file} failed: ${io} (ffmpeg: ${detail})`, { file: this.file, hint: 'complete checkpoints are kept; fix the cause and rerun with --resume' });
    return new TrajforgeError('E_FFMPEG_FAILED', `ffmpeg failed ${when} ${this.file}: ${detail}`.trim());
  }
}

/** Running ffmpeg children: killed when this process exits, so none outlives a failed or stopped run. */
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function spawnFfmpeg(args: string[]): ChildProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  const child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('close', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Runs ffmpeg to completion; returns stdout. */
export function runFfmpeg(args: string[], input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const proc = spawnFfmpeg(['-hide_banner', '-loglevel', 'error', '-nostdin', ...args]);
    const out: Buffer[] = [];
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => out.push(d));
    proc.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    proc.on('error', (e) => reject(new TrajforgeError('E_FFMPEG_FAILED', `cannot run ffmpeg: ${e.message}`)));
    proc.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new TrajforgeError('E_FFMPEG_FAILED', `ffmpeg ${args.join(' ')} failed (${code}): ${err.trim()}`))));
    if (input) proc.stdin!.end(input);
    else proc.stdin!.end();
  });
}

/**
 * Concatenates mp4 files made by VideoEncoder with the same settings into one, without
 * re-encoding, so that frame k of the result has pts exactly k / fps. ffmpeg's concat demuxer
 * leaves sub-millisecond gaps at file boundaries (more than the 1e-4 s LeRobot tolerates), so
 * the elementary streams are joined instead and re-timed by frame count: Annex-B H.264 byte
 * streams, or IVF frames (AV1) with renumbered timestamps. `scratch` is a temporary file (a
 * `*.tmp` name or inside `.trajforge/`), deleted at the end.
 */
export async function concatVideos(inputs: string[], output: string, fps: number, codec: VideoCodec, scratch: string): Promise<void> {
  const joined = new VideoConcat(scratch, fps, codec);
  for (const f of inputs) joined.add(f);
  await joined.finish(output);
}

/**
 * concatVideos as the inputs arrive: each input's elementary stream is extracted and spooled to
 * the scratch file as soon as it is added (one ffmpeg at a time, in order), so a run that commits
 * parts while it generates does the extraction then, and only the final mux remains at the end.
 * Memory stays at one input.
 */
export class VideoConcat {
  private readonly fd: number;
  private chain: Promise<void> = Promise.resolve();
  private frames = 0;
  private header: Buffer | null = null;
  private closed = false;

  constructor(
    private readonly scratch: string,
    private readonly fps: number,
    private readonly codec: VideoCodec,
  ) {
    this.fd = openSync(scratch, 'w');
  }

  /** Queues an input; its failure is thrown by finish(). */
  add(file: string): void {
    this.chain = this.chain.then(() => this.append(file));
    this.chain.catch(() => undefined);
  }

  async finish(output: string): Promise<void> {
    try {
      await this.chain;
      if (this.closed) throw new TrajforgeError('E_INTERNAL', `the join of videos into ${output} was stopped`);
      if (CODECS[this.codec].codec !== 'h264') {
        if (!this.header) throw new TrajforgeError('E_FFMPEG_FAILED', 'no video to concatenate');
        const count = Buffer.alloc(4);
        count.writeUInt32LE(this.frames, 0);
        writeSync(this.fd, count, 0, 4, 24);
      }
    } finally {
      this.close();
    }
    const timing = ['-video_track_timescale', String(this.fps * 1000), '-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-f', 'mp4', output];
    const format = CODECS[this.codec].codec === 'h264' ? ['-framerate', String(this.fps), '-f', 'h264'] : ['-f', 'ivf'];
    await runFfmpeg(['-y', ...format, '-i', this.scratch, '-c', 'copy', ...timing]);
    removeOwn(this.scratch);
  }

  /**
   * Stops: the scratch file is closed and removed now (a run started next may use the same name);
   * an extraction under way finds it closed and writes nothing.
   */
  abort(): void {
    this.close();
    removeOwn(this.scratch);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private async append(file: string): Promise<void> {
    if (this.closed) return; // stopped: the inputs still queued are not read
    if (CODECS[this.codec].codec === 'h264') {
      const annexB = await runFfmpeg(['-i', file, '-map', '0:v:0', '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', 'pipe:1']);
      if (!this.closed) writeSync(this.fd, annexB);
      return;
    }
    // IVF: 32-byte file header, then per frame a 12-byte header (u32 size, u64 pts) and the data.
    const ivf = await runFfmpeg(['-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'ivf', 'pipe:1']);
    if (this.closed) return;
    const headerLength = ivf.readUInt16LE(6);
    if (!this.header) {
      this.header = Buffer.from(ivf.subarray(0, headerLength));
      this.header.writeUInt32LE(this.fps, 16); // time base: rate fps, scale 1 -> one tick per frame
      this.header.writeUInt32LE(1, 20);
      writeSync(this.fd, this.header);
    }
    for (let o = headerLength; o + 12 <= ivf.length; ) {
      const size = ivf.readUInt32LE(o);
      ivf.writeBigUInt64LE(BigInt(this.frames++), o + 4);
      writeSync(this.fd, ivf, o, 12 + size);
      o += 12 + size;
    }
  }
}

/** Decodes a video to raw rgb24 frames (for validation and tests). */
export async function decodeVideo(file: string, width: number, height: number): Promise<{ frames: number; rgb: Buffer }> {
  const rgb = await runFfmpeg(['-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1']);
  return { frames: rgb.length / (width * height * 3), rgb };
}

/**
 * Presentation timestamps (seconds) of every video packet as stored in the file (stream copy, so
 * ffmpeg does not re-time anything), in presentation order.
 */
export async function frameTimestamps(file: string): Promise<number[]> {
  const text = (await runFfmpeg(['-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'framecrc', '-'])).toString();
  const lines = text.split('\n');
  const tb = lines.find((l) => l.startsWith('#tb 0:'));
  const m = tb ? /#tb 0: (\d+)\/(\d+)/.exec(tb) : null;
  if (!m) throw new TrajforgeError('E_FFMPEG_FAILED', `cannot read the time base of ${file}`);
  const num = Number(m[1]);
  const den = Number(m[2]);
  return lines
    .filter((l) => /^\d+,/.test(l))
    .map((l) => (Number(l.split(',')[2]) * num) / den)
    .sort((a, b) => a - b);
}
