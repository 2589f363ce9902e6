import { join } from 'node:path';
import type { EpisodeData } from '../dataset/episode.js';
import { escapeRegExp } from '../output/folder.js';
import type { EpisodeSink, SinkOpened } from '../dataset/sink.js';
import type { DatasetMeta, DatasetSummary } from '../dataset/meta.js';

/**
 * Several formats from one simulation (`--format lerobot,dreamer`): each format writes into
 * DIR/<format>. On resume every sink reports what it has; the run restarts from the smallest
 * count and each sink skips the episodes it already holds. Notices name their format ("dreamer: discarded ...").
 */
export class MultiSink implements EpisodeSink<Record<string, unknown>> {
  private committed: number[] = [];
  private next = 0;
  constructor(private readonly sinks: { name: string; sink: EpisodeSink }[]) {}

  async open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened> {
    this.committed = [];
    const notices: string[] = [];
    for (const s of this.sinks) {
      const opened = await s.sink.open(join(dir, s.name), meta, opts);
      this.committed.push(opened.committed);
      for (const n of opened.notices ?? []) notices.push(`${s.name}: ${n}`);
    }
    this.next = Math.min(...this.committed);
    return { committed: this.next, ...(notices.length ? { notices } : {}) };
  }

  /** Each format's encoding of the episode, by format name. */
  encode(ep: EpisodeData, meta: DatasetMeta, position: number): Record<string, unknown> {
    return Object.fromEntries(this.sinks.map((s) => [s.name, s.sink.encode?.(ep, meta, position)]));
  }

  async write(ep: EpisodeData, encoded?: Record<string, unknown>): Promise<void> {
    for (const [i, s] of this.sinks.entries()) if (this.next >= this.committed[i]!) await s.sink.write(ep, encoded?.[s.name]);
    this.next++;
  }

  async close(): Promise<DatasetSummary> {
    const summaries: DatasetSummary[] = [];
    for (const s of this.sinks) summaries.push(await s.sink.close());
    const first = summaries[0]!;
    return { ...first, bytes: summaries.reduce((n, s) => n + s.bytes, 0) };
  }

  /** Each format's entries inside its folder: a whole entry stays whole (`name/entry` and all under it), file patterns keep naming files. */
  entries(meta: DatasetMeta): string[] {
    return this.sinks.flatMap((s) => s.sink.entries(meta).map((p) => `${escapeRegExp(s.name)}/${p}${p.includes('/') ? '' : '(?:/.*)?'}`));
  }

  check(meta: DatasetMeta): void {
    for (const s of this.sinks) s.sink.check?.(meta);
  }

  async abort(): Promise<void> {
    for (const s of this.sinks) await s.sink.abort();
  }
}
