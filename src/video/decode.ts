/** Streaming decode of video files to raw rgb24 frames (ffmpeg; src/video is the only place that runs it). */
import { spawn, type ChildProcess } from 'node:child_process';
import { TrajforgeError } from '../core/errors.js';
import { ffmpegPath } from './ffmpeg.js';

/** Sequential rgb24 frames of one video file from a streaming ffmpeg decoder (pulled, so ffmpeg waits while we do not read). */
export class FrameStream {
  /** Index in the file of the next frame to come out. */
  position: number;
  private readonly proc: ChildProcess;
  private readonly chunks: AsyncIterator<Buffer>;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(
    readonly file: string,
    private readonly frameBytes: number,
    start: number,
    fps: number,
  ) {
    this.position = start;
    const seek = start > 0 ? ['-ss', String(start / fps)] : [];
    this.proc = spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', ...seek, '-i', file, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (err) => {
        this.stderr += `cannot run ffmpeg: ${err.message}`;
        resolve(null);
      });
      this.proc.on('close', (code) => resolve(code));
    });
    this.chunks = (this.proc.stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** Frames [from, from + count) of the file (from >= position). */
  async read(from: number, count: number): Promise<Uint8Array> {
    if (from > this.position) await this.take((from - this.position) * this.frameBytes);
    const out = await this.take(count * this.frameBytes);
    this.position = from + count;
    return out;
  }

  close(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  private async take(bytes: number): Promise<Uint8Array> {
    while (this.bufferedBytes < bytes) {
      const next = await this.chunks.next();
      if (next.done) {
        const code = await this.exited;
        // ffmpeg ran and exited: the file is what failed, and the error names it (callers reading a
        // dataset report damage then); no exit code: ffmpeg itself did not run.
        throw new TrajforgeError('E_FFMPEG_FAILED', `decoding ${this.file} ended before frame ${this.position + Math.floor(bytes / this.frameBytes)} (ffmpeg exit ${code}) ${this.stderr.trim()}`.trim(), code === null ? {} : { file: this.file });
      }
      this.buffered.push(next.value);
      this.bufferedBytes += next.value.length;
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    const out = new Uint8Array(bytes);
    out.set(all.subarray(0, bytes));
    const rest = all.subarray(bytes);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return out;
  }
}

