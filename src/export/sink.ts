import type { EnvConfig } from '../config/schema.js';
import type { Channel } from '../render/renderer.js';
import type { EpisodeData } from '../episode/simulate.js';
import type { VideoCodec } from '../video/ffmpeg.js';

/** What a dataset writer knows about the run before the first episode arrives. */
export interface DatasetMeta {
  envId: string;
  config: EnvConfig;
  configHash: string;
  instruction: string;
  fps: number;
  observationNames: string[];
  actionNames: string[];
  discrete: boolean;
  cameras: { name: string; width: number; height: number; channels: Channel[] }[];
  /** Body names by id (segmentation legend). */
  bodyNames: string[];
  /**
   * Extra per-step float features the episodes carry in `EpisodeData.extras` (e.g. a world
   * model's `observation.latent`), declared up front so writers can lay out their schema before
   * the first episode. Every episode must then carry exactly these keys and dims.
   */
  extraFeatures?: ExtraFeature[];
  /** Where the episodes came from; absent means the simulator. */
  source?: DatasetSource;
  run: {
    seed: number;
    /** Episodes of the whole run (before sharding). */
    episodes: number;
    shard: { index: number; count: number };
    policy: { kind: string; noise: number; epsilon: number };
    codec: VideoCodec;
    gop: number;
    /** Episodes per checkpoint (resume granularity). */
    checkpoint: number;
    /** File rollover thresholds. */
    layout: { chunksSize: number; dataFileMb: number; videoFileMb: number };
  };
}

export interface ExtraFeature {
  key: string;
  dim: number;
  names?: string[];
}

/** Provenance: `world-model` marks episodes dreamed by a learned model rather than simulated. */
export interface DatasetSource {
  kind: 'simulator' | 'world-model';
  modelId?: string;
  model?: string;
}

export interface DatasetSummary {
  dir: string;
  episodes: number;
  frames: number;
  successes: number;
  bytes: number;
}

/** What `open` found when resuming: how many episodes are safely on disk, and what it discarded to get there. */
export interface SinkOpened {
  committed: number;
  /**
   * One line per damaged or incomplete piece of an interrupted run that was deleted and is written
   * again, naming the file and the episodes (dataset positions) redone, e.g.
   * "discarded part-00002 (top.mp4 truncated: 1234 of 5678 bytes); redoing episodes 20-29".
   * Sinks do not print; the caller shows these.
   */
  notices?: string[];
}

/**
 * The exporter interface: episodes arrive in order; `open` reports how many are already safely
 * on disk when resuming, after checking them and discarding what is damaged or incomplete.
 * A new format is one file implementing this plus one line in FORMATS.
 */
export interface EpisodeSink {
  open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened>;
  write(ep: EpisodeData): Promise<void>;
  close(): Promise<DatasetSummary>;
  /** Stops without finishing (e.g. after an error); what was committed stays resumable. */
  abort(): Promise<void>;
  /**
   * The top-level entries the sink writes in its folder, as regular expressions over whole names
   * (its `.trajforge*` staging aside): declared before writing, so the folder's marker can tell
   * them from a user's files even after a crash.
   */
  entries(meta: DatasetMeta): string[];
}

/**
 * Streams episodes into a fresh sink inside a held output folder, checking after each write that
 * the folder is still held; on failure the sink stops (its partial files go with the folder).
 */
export async function writeEpisodes(sink: EpisodeSink, folder: { dir: string; assertHeld(): void }, meta: DatasetMeta, episodes: AsyncIterable<EpisodeData>, onEpisode?: (ep: EpisodeData) => void): Promise<DatasetSummary> {
  try {
    await sink.open(folder.dir, meta, { resume: false });
    for await (const ep of episodes) {
      await sink.write(ep);
      folder.assertHeld();
      onEpisode?.(ep);
    }
    return await sink.close();
  } catch (e) {
    await sink.abort();
    throw e;
  }
}
