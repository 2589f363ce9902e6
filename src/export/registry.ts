import { TrajforgeError } from '../core/errors.js';
import { closest } from '../core/registry.js';
import type { EpisodeData } from '../dataset/episode.js';
import type { DatasetMeta } from '../dataset/meta.js';
import type { EpisodeSink } from '../dataset/sink.js';

/** A pure encoding step (EpisodeSink.encode) as a plain function. */
export type Encoder = (ep: EpisodeData, meta: DatasetMeta, position: number) => unknown;

export interface Format {
  /** A writer for one dataset (its module is loaded on the first call). */
  sink(): Promise<EpisodeSink>;
  /**
   * Its encoding step from a module that holds no writer code, for worker threads; formats whose
   * writer module is light leave it out and the workers use the writer's own `encode`.
   */
  encoder?(): Promise<Encoder>;
}

/**
 * Dataset formats by name: the CLI's --format choices and its unknown-format error come from here.
 * Each loads its folder on use, so a run (or a worker) loads only the formats it writes.
 */
export const FORMATS = {
  lerobot: { sink: async () => new (await import('./lerobot/writer.js')).LeRobotSink(), encoder: async () => (await import('./lerobot/encode.js')).encodeEpisode },
  dreamer: { sink: async () => new (await import('./dreamer/sink.js')).DreamerSink() },
  minari: { sink: async () => new (await import('./minari/sink.js')).MinariSink() },
  rlds: { sink: async () => new (await import('./rlds/sink.js')).RldsSink() },
  frames: { sink: async () => new (await import('./frames/sink.js')).FramesSink() },
} satisfies Record<string, Format>;

export type FormatName = keyof typeof FORMATS;

/** The format names of "lerobot" or "lerobot,dreamer", checked: known, at least one, none twice. */
export function formatNames(formats: string): FormatName[] {
  const names = formats.split(',').map((f) => f.trim()).filter(Boolean);
  if (names.length === 0) throw new TrajforgeError('E_USAGE', `--format needs a format (known: ${Object.keys(FORMATS).join(', ')})`);
  for (const n of names) {
    if (!(n in FORMATS)) throw new TrajforgeError('E_USAGE', `unknown --format '${n}'; did you mean '${closest(n, Object.keys(FORMATS), 1)[0]}'? (known: ${Object.keys(FORMATS).join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw new TrajforgeError('E_USAGE', `--format lists a format twice: ${formats}`);
  return names as FormatName[];
}

/** "lerobot" or "lerobot,dreamer": one sink writing into DIR, or one per format in DIR/<format>. */
export async function sinkFor(formats: string): Promise<EpisodeSink> {
  const names = formatNames(formats);
  if (names.length === 1) return FORMATS[names[0]!].sink();
  const { MultiSink } = await import('./multi.js');
  return new MultiSink(await Promise.all(names.map(async (name) => ({ name, sink: await FORMATS[name].sink() }))));
}

/**
 * The encoding half of `sinkFor(formats)` (see EpisodeSink.encode), for the worker threads that
 * simulate the episodes: one format's encoding, or each format's by name (what MultiSink.write
 * takes); undefined when the formats encode nothing ahead of writing.
 */
export async function encoderFor(formats: string): Promise<Encoder | undefined> {
  const encoders = await Promise.all(
    formatNames(formats).map(async (name): Promise<[FormatName, Encoder | undefined]> => {
      const format: Format = FORMATS[name];
      if (format.encoder) return [name, await format.encoder()];
      const sink = await format.sink();
      return [name, sink.encode?.bind(sink)];
    }),
  );
  if (encoders.length === 1) return encoders[0]![1];
  if (encoders.every(([, e]) => e === undefined)) return undefined;
  return (ep, meta, position) => Object.fromEntries(encoders.map(([name, e]) => [name, e?.(ep, meta, position)]));
}
