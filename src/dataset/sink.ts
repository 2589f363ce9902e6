import type { EpisodeData } from '../dataset/episode.js';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../output/atomic.js';
import { removeOwn } from '../output/remove.js';
import { appendJournal, discardNotice, readJournal, sizeProblem, writeJournal } from './journal.js';
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
 * A new format is one folder implementing this (see JournaledSink) plus one line in FORMATS
 * (src/export/registry.ts).
 */
export interface EpisodeSink<E = unknown> {
  open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened>;
  /**
   * The format's encoding of one episode (PNG, npz, record bytes...): pure, no I/O, so the worker
   * that simulated the episode runs it and the main thread only commits. `position` is the
   * episode's place in the dataset. Sinks without a separate encoding step leave it out.
   */
  encode?(ep: EpisodeData, meta: DatasetMeta, position: number): E;
  /** Commits one episode, in order; `encoded` is `encode`'s result when a worker ran it. */
  write(ep: EpisodeData, encoded?: E): Promise<void>;
  close(): Promise<DatasetSummary>;
  /**
   * Whether DIR already holds this run finished, by the format's own metadata (a dataset written
   * before generate kept its run record): its episode and frame counts, or null.
   */
  finishedRun?(dir: string, meta: DatasetMeta): { episodes: number; frames: number } | null;
  /** Stops without finishing (e.g. after an error); what was committed stays resumable. */
  abort(): Promise<void>;
  /**
   * The top-level entries the sink writes in its folder, as regular expressions over whole names
   * (its `.trajforge*` staging aside): declared before writing, so the folder's marker can tell
   * them from a user's files even after a crash.
   */
  entries(meta: DatasetMeta): string[];
  /** Refuses settings the format cannot write (a camera size its video codec cannot encode), before any output is opened. */
  check?(meta: DatasetMeta): void;
}

/** The sink's entries (EpisodeSink.entries) once its check passed: what commands declare before opening their output. */
export function sinkEntries(sink: EpisodeSink, meta: DatasetMeta): string[] {
  sink.check?.(meta);
  return sink.entries(meta);
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

/** What every journal line records; a sink adds its own fields (file sizes, offsets). */
export interface JournalEntry {
  episode: number;
  seed: number;
  length: number;
  success: boolean;
}

/** How much of an interrupted run is intact: the first `count` journaled episodes, and why the next is not. */
export interface Intact {
  count: number;
  /** What is wrong with episode `count` (naming the file); absent when all are intact. */
  problem?: string;
  /** How the discard notice names what is dropped (default: unitName(count)). */
  what?: string;
}

/**
 * The skeleton every journaled format shares, so a format writes only its own encoding and files:
 * a progress journal (one line per committed episode, appended after its files are durable),
 * counters, resume (journal read, episodes checked on disk, damaged tail discarded with a notice)
 * and the final commit (the journal folder removed once the dataset files are in place).
 *
 * A format implements `encode` (pure, so it can run on the worker that simulated the episode),
 * `commit` (writes one encoded episode, returns what its journal line records), `finish` (the
 * dataset-level files) and `entries`; it overrides `intact` / `start` when its files are not one
 * set per episode (an appended record file, an HDF5 file). The default resume check compares the
 * size of every file a line records in `files`, and the default start removes the files of
 * discarded lines.
 */
export abstract class JournaledSink<E, X extends object = { files: Record<string, number> }> implements EpisodeSink<E> {
  protected dir = '';
  protected meta!: DatasetMeta;
  /** Episodes committed so far: also the dataset position of the next one. */
  protected episodes = 0;
  protected frames = 0;
  protected successes = 0;
  private lines: (JournalEntry & X)[] = [];

  /** The staging folder (DIR/<progress>) that holds the journal while the run is unfinished. */
  protected abstract readonly progress: string;
  abstract entries(meta: DatasetMeta): string[];
  abstract encode(ep: EpisodeData, meta: DatasetMeta, position: number): E;
  /** Writes one encoded episode durably (atomic files, or an append whose end the line records). */
  protected abstract commit(encoded: E, ep: EpisodeData, position: number): X | Promise<X>;
  /** Writes the dataset-level files once every episode is in; returns the dataset's byte size. */
  protected abstract finish(lines: readonly (JournalEntry & X)[]): number | Promise<number>;

  /** Rejects metadata the format cannot write, before any file exists. */
  protected validate(_meta: DatasetMeta): void {}

  /**
   * Writes files (paths relative to DIR; writeFileAtomic makes their folders) each atomically; returns the
   * journal fields that vouch for them, which the default resume check verifies.
   */
  protected commitFiles(files: readonly { path: string; data: Uint8Array | string }[]): { files: Record<string, number> } {
    const sizes: Record<string, number> = {};
    for (const f of files) {
      writeFileAtomic(join(this.dir, f.path), f.data);
      sizes[f.path] = typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.byteLength;
    }
    return { files: sizes };
  }

  /** How notices name the episode at a dataset position. */
  protected unitName(position: number): string {
    return `episode ${position}`;
  }

  /** Frames an episode of `length` steps adds (T + 1 where the format stores the final observation). */
  protected framesOf(length: number): number {
    return length + 1;
  }

  /** Default check: every file the line records (relative to DIR) has the size recorded at its commit. */
  protected intact(lines: readonly (JournalEntry & X)[], _damage: string | null): Intact {
    for (const [i, line] of lines.entries()) {
      const files = (line as { files?: unknown }).files;
      if (typeof files !== 'object' || files === null || Object.keys(files).length === 0) return { count: i, problem: 'its journal line records no files' };
      for (const [file, bytes] of Object.entries(files as Record<string, number>)) {
        const problem = sizeProblem(join(this.dir, file), bytes, file);
        if (problem) return { count: i, problem };
      }
    }
    return { count: lines.length };
  }

  /**
   * Makes DIR hold exactly the kept episodes (none on a fresh run) and readies it for appending.
   * Default: the recorded files of discarded lines go; a format that can leave files no line
   * records (a crash between write and journal) removes those by its own naming here.
   */
  protected start(kept: readonly (JournalEntry & X)[], discarded: readonly (JournalEntry & X)[]): void | Promise<void> {
    const keep = new Set(kept.flatMap((l) => Object.keys((l as { files?: Record<string, number> }).files ?? {})));
    for (const line of discarded) {
      for (const file of Object.keys((line as { files?: Record<string, number> }).files ?? {})) if (!keep.has(file)) removeOwn(join(this.dir, file));
    }
  }

  async open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened> {
    this.dir = dir;
    this.meta = meta;
    this.validate(meta);
    mkdirSync(join(dir, this.progress), { recursive: true });
    const journal = this.journalFile();
    const notices: string[] = [];
    let entries: (JournalEntry & X)[] = [];
    let kept: (JournalEntry & X)[] = [];
    if (opts.resume && existsSync(journal)) {
      const read = readJournal<JournalEntry & X>(journal);
      entries = read.entries;
      const intact = entries.length > 0 ? this.intact(entries, read.damage) : { count: 0 };
      kept = entries.slice(0, intact.count);
      if (intact.count < entries.length) {
        notices.push(discardNotice(intact.what ?? this.unitName(intact.count), intact.problem ?? 'not intact', intact.count, entries.length - (read.damage ? 0 : 1)));
      } else if (read.damage) notices.push(discardNotice(this.unitName(entries.length), read.damage, entries.length, entries.length));
    }
    await this.start(kept, entries.slice(kept.length));
    writeJournal(journal, kept);
    this.lines = kept;
    this.episodes = kept.length;
    this.frames = kept.reduce((n, l) => n + this.framesOf(l.length), 0);
    this.successes = kept.filter((l) => l.success).length;
    return { committed: kept.length, ...(notices.length ? { notices } : {}) };
  }

  async write(ep: EpisodeData, encoded?: E): Promise<void> {
    const position = this.episodes;
    const fields = await this.commit(encoded ?? this.encode(ep, this.meta, position), ep, position);
    const success = ep.success[ep.length - 1] === 1;
    const line = { episode: ep.episode, seed: ep.seed, length: ep.length, success, ...fields } as JournalEntry & X;
    appendJournal(this.journalFile(), line);
    this.lines.push(line);
    this.episodes++;
    this.frames += this.framesOf(ep.length);
    if (success) this.successes++;
  }

  async close(): Promise<DatasetSummary> {
    const bytes = await this.finish(this.lines);
    removeOwn(join(this.dir, this.progress));
    return { dir: this.dir, episodes: this.episodes, frames: this.frames, successes: this.successes, bytes };
  }

  async abort(): Promise<void> {}

  private journalFile(): string {
    return join(this.dir, this.progress, 'episodes.jsonl');
  }
}

/** Total bytes of the dataset's files under DIR (the tool's `.trajforge*` bookkeeping left out). */
export function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.trajforge')) continue;
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}
