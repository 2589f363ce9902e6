import { TrajforgeError } from '../core/errors.js';
import { FrameStream } from './decode.js';
import { VideoEncoder, frameTimestamps, type EncoderOptions } from './ffmpeg.js';

/**
 * Re-encodes a video file frame for frame into another codec (a merge of datasets written with
 * different codecs): decoded to rgb24 and encoded as the writers encode, so the output has the
 * same frames, timestamps and container layout as a file written with that codec.
 */
export async function transcodeVideo(from: string, to: string, opts: EncoderOptions): Promise<void> {
  const frames = (await frameTimestamps(from)).length;
  const bytes = opts.width * opts.height * 3;
  const reader = new FrameStream(from, bytes, 0, opts.fps);
  const writer = new VideoEncoder(to, opts);
  try {
    for (let k = 0; k < frames; k++) await writer.write(await reader.read(k, 1));
    await writer.finish();
  } catch (e) {
    writer.abort();
    throw e instanceof TrajforgeError ? e : new TrajforgeError('E_FFMPEG_FAILED', `re-encoding ${from} into ${to} failed: ${(e as Error).message}`);
  } finally {
    reader.close();
  }
}
