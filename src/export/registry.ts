import { TrajforgeError } from '../core/errors.js';
import { closest } from '../core/registry.js';
import { DreamerSink } from './dreamer/sink.js';
import { FramesSink } from './frames/sink.js';
import { LeRobotSink } from './lerobot/writer.js';
import { MinariSink } from './minari/sink.js';
import { MultiSink } from './multi.js';
import { RldsSink } from './rlds/sink.js';
import type { EpisodeData } from '../dataset/episode.js';
import type { DatasetMeta } from '../dataset/meta.js';
import type { EpisodeSink } from '../dataset/sink.js';

/** Dataset formats by name: the CLI's --format choices and its unknown-format error come from here. */
export const FORMATS = {
  lerobot: (): EpisodeSink => new LeRobotSink(),
  dreamer: (): EpisodeSink => new DreamerSink(),
  minari: (): EpisodeSink => new MinariSink(),
  rlds: (): EpisodeSink => new RldsSink(),
  frames: (): EpisodeSink => new FramesSink(),
} satisfies Record<string, () => EpisodeSink>;

export type FormatName = keyof typeof FORMATS;

/** "lerobot" or "lerobot,dreamer": one sink writing into DIR, or one per format in DIR/<format>. */
export function sinkFor(formats: string): EpisodeSink {
  const names = formats.split(',').map((f) => f.trim()).filter(Boolean);
  if (names.length === 0) throw new TrajforgeError('E_USAGE', `--format needs a format (known: ${Object.keys(FORMATS).join(', ')})`);
  for (const n of names) {
    if (!(n in FORMATS)) throw new TrajforgeError('E_USAGE', `unknown --format '${n}'; did you mean '${closest(n, Object.keys(FORMATS), 1)[0]}'? (known: ${Object.keys(FORMATS).join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw new TrajforgeError('E_USAGE', `--format lists a format twice: ${formats}`);
  if (names.length === 1) return FORMATS[names[0] as FormatName]();
  return new MultiSink(names.map((name) => ({ name, sink: FORMATS[name as FormatName]() })));
}

/**
 * The encoding half of `sinkFor(formats)` (see EpisodeSink.encode), for the worker threads that
 * simulate the episodes; undefined when the formats encode nothing ahead of writing.
 */
export function encoderFor(formats: string): ((ep: EpisodeData, meta: DatasetMeta, position: number) => unknown) | undefined {
  const sink = sinkFor(formats);
  return sink.encode?.bind(sink);
}
