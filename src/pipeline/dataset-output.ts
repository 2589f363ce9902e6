import { TrajforgeError } from '../core/errors.js';
import type { EpisodeSink } from '../dataset/sink.js';
import { sinkFor } from '../export/registry.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { openOutput, type OutputFolder } from '../output/folder.js';
import { checkInt, outputNotices, type NoticeCallback } from './progress.js';

/** The dataset-writing options commands that write episodes share (dream, label), checked alike. */
export async function datasetOutput(opts: { format?: string; codec?: VideoCodec; gop?: number }): Promise<{ format: string; sink: EpisodeSink; codec: VideoCodec; gop: number }> {
  const format = opts.format ?? 'lerobot';
  const sink = await sinkFor(format);
  const codec = opts.codec ?? 'h264';
  if (!(codec in CODECS)) throw new TrajforgeError('E_USAGE', `unknown --codec '${codec}' (known: ${Object.keys(CODECS).join(', ')})`);
  return { format, sink, codec, gop: checkInt(opts.gop ?? 2, 'gop', 1) };
}

/**
 * Opens the output folder of a command that writes a resumable dataset (generate, play --record):
 * new, `overwrite` (a dataset trajforge wrote) or `resume`, with the sink's entries declared.
 */
export function openResumableDataset(dir: string, command: string, entries: string[], opts: { overwrite?: boolean; resume?: boolean; cwd?: string; onNotice?: NoticeCallback }): OutputFolder {
  return openOutput(dir, {
    kind: 'dataset',
    command,
    mode: opts.overwrite ? 'overwrite' : opts.resume ? 'resume' : 'new',
    entries,
    accepts: ['overwrite', 'resume'],
    resumable: true,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    onNotice: outputNotices(opts.onNotice),
  });
}
