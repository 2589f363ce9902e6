import type { EpisodeData } from '../dataset/episode.js';
import type { DatasetMeta, DatasetSummary } from './meta.js';

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
