import { TrajforgeError } from '../core/errors.js';
import type { EpisodeSink } from '../dataset/sink.js';
import { sinkFor } from '../export/registry.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { checkInt } from './progress.js';

/** The dataset-writing options commands that write episodes share (dream, label), checked alike. */
export async function datasetOutput(opts: { format?: string; codec?: VideoCodec; gop?: number }): Promise<{ format: string; sink: EpisodeSink; codec: VideoCodec; gop: number }> {
  const format = opts.format ?? 'lerobot';
  const sink = await sinkFor(format);
  const codec = opts.codec ?? 'h264';
  if (!(codec in CODECS)) throw new TrajforgeError('E_USAGE', `unknown --codec '${codec}' (known: ${Object.keys(CODECS).join(', ')})`);
  return { format, sink, codec, gop: checkInt(opts.gop ?? 2, 'gop', 1) };
}
