/**
 * dream --from-video: start frames for dreams taken from any video, so generic footage becomes a
 * controllable environment. The video is resampled to the model's input size and the
 * environment's rate while decoded (src/video/resample.ts) and `count` frames evenly spaced over
 * it are kept, each with the frame before it: frame j is output frame floor(j · N / count) of the N the video gives (all N when
 * count >= N), so the starts cover the whole video and only they are held in memory.
 */
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeProvenance } from '../dataset/episode.js';
import type { ModelCard } from '../model/card.js';
import type { StartFrames } from '../model/dream.js';
import { probeVideo } from '../video/probe.js';
import { openResampled, type Fit } from '../video/resample.js';

export async function readStartFrames(file: string, card: ModelCard, fps: number, count: number, fit: Fit = 'crop'): Promise<StartFrames> {
  const info = await probeVideo(file, { countFrames: true });
  const { width, height } = card.input;
  const Q = width * height * 3;
  // The resampler's frame count for a constant-rate source (resample.ts); a guess otherwise.
  const expected = info.frames !== null && info.fps ? Math.round((info.frames * fps) / info.fps) : info.durationSeconds !== null ? Math.round(info.durationSeconds * fps) : null;
  if (expected !== null && expected < 1) throw new TrajforgeError('E_VIDEO_INVALID', `${file}: no frames to start dreams from`, { file });
  const n = expected === null ? count : Math.min(count, expected);
  const wanted = expected === null ? null : Array.from({ length: n }, (_, j) => Math.floor((j * expected) / n));
  const frames: Uint8Array[] = [];
  const previous: Uint8Array[] = [];
  /** The last frame of the previous batch: the predecessor of a batch's first frame. */
  let last: Uint8Array | null = null;
  const provenance: EpisodeProvenance[] = [];
  const video = openResampled(file, { width, height, fps, fit });
  let next = 0;
  for await (const batch of video) {
    for (let i = 0; i < batch.count; i++) {
      const index = batch.first + i;
      // Without a frame count, the first `count` frames; with one, the evenly spaced ones.
      const take = wanted === null ? frames.length < count : wanted[next] === index;
      if (!take) continue;
      frames.push(batch.data.slice(i * Q, (i + 1) * Q));
      previous.push(i > 0 ? batch.data.slice((i - 1) * Q, i * Q) : (last ?? frames[frames.length - 1]!));
      provenance.push({ file, fromFrame: index, toFrame: index, sourceFps: info.fps ?? 0, sourceWidth: info.width, sourceHeight: info.height });
      next++;
    }
    if (batch.count > 0) last = batch.data.slice((batch.count - 1) * Q, batch.count * Q);
    if ((wanted !== null && next >= wanted.length) || (wanted === null && frames.length >= count)) break;
  }
  if (frames.length === 0) throw new TrajforgeError('E_VIDEO_INVALID', `${file}: the video gave no frames at ${fps} fps to start dreams from`, { file });
  const join = (xs: Uint8Array[]) => {
    const all = new Uint8Array(xs.length * Q);
    xs.forEach((f, j) => all.set(f, j * Q));
    return all;
  };
  return { frames: join(frames), previous: join(previous), count: frames.length, provenance };
}
