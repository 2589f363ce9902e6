import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, MARKER_FILE } from './output.js';
import { TrajforgeError } from '../core/errors.js';
import { addEpisodeStats, episodeExtrasPath, extraKeys, MetadataWriter, NumericCollector, typedColumns, type EpisodeRecord } from './lerobot.js';
import { dataColumns, dataPath, episodeStatFeatures, fileAddress, videoPath, type Feature } from './lerobot-format.js';
import { metaFromSidecar, type TrajforgeSidecar } from './lerobot-episodes.js';
import { dataFiles, readEpisodesMeta, readInfo, readJson, readParquetRows, type Row } from './lerobot-read.js';
import { ArrowParquetFile } from './parquet.js';
import type { DatasetMeta, DatasetSummary } from './sink.js';

type SidecarEpisode = Omit<EpisodeRecord, 'from_index'> & { source_episode: number };

/**
 * Merges trajforge LeRobot datasets (typically the shards of one run) into one whose episodes are
 * ordered by their run episode number k, exactly as a single run would write them: data rows are
 * re-indexed and rewritten; video files are copied as they are (no re-encoding) and episodes keep
 * their offsets inside them; stats are recomputed exactly (numeric from the rows, images from the
 * per-episode histograms).
 */
export async function mergeLeRobot(inputs: string[], out: string): Promise<DatasetSummary> {
  if (inputs.length === 0) throw new TrajforgeError('E_USAGE', 'merge needs at least one input dataset');
  const shards = inputs.map((dir) => {
    const info = readInfo(dir);
    const side = join(dir, 'meta', 'trajforge.json');
    if (!existsSync(side)) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: no meta/trajforge.json; merge needs datasets written by trajforge`);
    const sidecar = readJson<TrajforgeSidecar>(side);
    const episodes = readFileSync(join(dir, sidecar.episodes_file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SidecarEpisode);
    return { dir, info, side: sidecar, episodes };
  });
  const first = shards[0]!;
  for (const s of shards.slice(1)) {
    if (s.side.config_hash !== first.side.config_hash) throw new TrajforgeError('E_DATASET_INVALID', `${s.dir}: config hash ${s.side.config_hash} differs from ${first.dir} (${first.side.config_hash})`);
    if (JSON.stringify(s.info.features) !== JSON.stringify(first.info.features) || s.info.fps !== first.info.fps) throw new TrajforgeError('E_DATASET_INVALID', `${s.dir}: features or fps differ from ${first.dir}`);
    const a = { ...s.side.run, shard: null };
    const b = { ...first.side.run, shard: null };
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new TrajforgeError('E_DATASET_INVALID', `${s.dir}: run settings differ from ${first.dir}`);
    // Simulated and dreamed episodes (or two models' dreams) must not blend into one dataset.
    if (JSON.stringify(s.side.source ?? null) !== JSON.stringify(first.side.source ?? null)) throw new TrajforgeError('E_DATASET_INVALID', `${s.dir}: source (simulator / world model) differs from ${first.dir}`);
  }
  const features = first.info.features as Record<string, Feature>;
  const videoKeys = Object.entries(features).filter(([, f]) => f.dtype === 'video').map(([k]) => k);

  // Every episode of every shard, with where its rows and frames live.
  interface Source {
    shard: number;
    local: number;
    row: Row;
    side: SidecarEpisode;
  }
  const sources: Source[] = [];
  for (const [si, s] of shards.entries()) {
    const rows = await readEpisodesMeta(s.dir);
    rows.forEach((row, local) => sources.push({ shard: si, local, row, side: s.episodes[local]! }));
  }
  sources.sort((a, b) => a.side.source_episode - b.side.source_episode);
  for (let i = 1; i < sources.length; i++) {
    if (sources[i]!.side.source_episode === sources[i - 1]!.side.source_episode) throw new TrajforgeError('E_DATASET_INVALID', `episode ${sources[i]!.side.source_episode} appears in two inputs`);
  }
  if (existsSync(out) && readdirSync(out).some((e) => e !== LOCK_FILE && e !== MARKER_FILE)) throw new TrajforgeError('E_DATASET_EXISTS', `${out} exists and is not empty`);
  mkdirSync(out, { recursive: true });

  // Videos: each input file copied once, renumbered per key in input order.
  const videoMap = new Map<string, number>();
  for (const k of videoKeys) {
    let next = 0;
    for (const [si, s] of shards.entries()) {
      const files = new Set<string>();
      for (const src of sources.filter((x) => x.shard === si)) files.add(`${Number(src.row[`videos/${k}/chunk_index`])}/${Number(src.row[`videos/${k}/file_index`])}`);
      for (const f of [...files].sort((a, b) => cmpAddr(a, b))) {
        const [chunk, file] = f.split('/').map(Number) as [number, number];
        const [nc, nf] = fileAddress(next, first.side.run.layout.chunksSize);
        const to = join(out, videoPath(k, nc, nf));
        mkdirSync(join(to, '..'), { recursive: true });
        copyFileSync(join(s.dir, videoPath(k, chunk, file)), `${to}.tmp`);
        renameSync(`${to}.tmp`, to);
        videoMap.set(`${k}|${si}|${f}`, next++);
      }
    }
  }

  const side = first.side;
  const meta: DatasetMeta = { ...metaFromSidecar(side), run: { ...side.run, shard: { index: 0, count: 1 } } };
  // Data: rows rewritten in merged episode order, with new episode and global indices.
  const writerMeta = new MetadataWriter(out, meta, features);
  mkdirSync(join(out, 'meta', 'trajforge_episodes'), { recursive: true });
  const columns = dataColumns(features);
  const readers = shards.map((s) => new RowCursor(dataFiles(s.dir)));
  const numeric = new NumericCollector(features, extraKeys(meta));
  let writer: ArrowParquetFile | null = null;
  let writerPath = '';
  let fileNo = 0;
  let bytes = 0;
  let index = 0;
  const layout = first.side.run.layout;
  const limit = layout.dataFileMb * 1024 * 1024;
  const finish = async () => {
    if (!writer) return;
    await writer.finish();
    writer = null;
    fileNo++;
    bytes = 0;
  };
  for (const [ei, src] of sources.entries()) {
    const length = Number(src.row.length);
    const rows = await readers[src.shard]!.take(Number(src.row.dataset_from_index), length);
    const data: Record<string, unknown[]> = {};
    for (const c of columns) data[c.name] = rows.map((r) => normalize(r[c.name]));
    data.episode_index = rows.map(() => BigInt(ei));
    data.index = rows.map((_, t) => BigInt(index + t));
    const estimate = rows.length * columns.length * 16;
    if (writer && bytes + estimate > limit) await finish();
    if (!writer) {
      const [c, f] = fileAddress(fileNo, layout.chunksSize);
      writerPath = join(out, dataPath(c, f));
      writer = new ArrowParquetFile(writerPath);
    }
    (writer as ArrowParquetFile).write(typedColumns(columns, features, data, length), length);
    bytes += estimate;
    numeric.add(data, length);
    const record: EpisodeRecord = {
      episode_index: ei,
      source_episode: src.side.source_episode,
      seed: src.side.seed,
      length,
      success: src.side.success,
      return: src.side.return,
      from_index: index,
      histograms: src.side.histograms,
      bodies: src.side.bodies,
      collisions: src.side.collisions,
      data_file: fileNo,
      video: Object.fromEntries(
        videoKeys.map((k) => {
          const addr = `${Number(src.row[`videos/${k}/chunk_index`])}/${Number(src.row[`videos/${k}/file_index`])}`;
          return [k, { file: videoMap.get(`${k}|${src.shard}|${addr}`)!, from_frame: Math.round(Number(src.row[`videos/${k}/from_timestamp`]) * first.info.fps) }];
        }),
      ),
    };
    addEpisodeStats(data, [record], features, episodeStatFeatures(meta, features));
    copyFileSync(episodeExtrasPath(shards[src.shard]!.dir, src.local), episodeExtrasPath(out, ei));
    writerMeta.add(record);
    index += length;
  }
  await finish();

  return writerMeta.finish(numeric);

}

function cmpAddr(a: string, b: string): number {
  const [ac, af] = a.split('/').map(Number) as [number, number];
  const [bc, bf] = b.split('/').map(Number) as [number, number];
  return ac - bc || af - bf;
}

/** hyparquet returns typed arrays for some list columns; the writer wants plain arrays. */
export function normalize(v: unknown): unknown {
  return ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v;
}

/** Sequential access to the rows of a dataset's data files, one file in memory at a time. */
export class RowCursor {
  private file = -1;
  private rows: Row[] = [];
  private start = 0;
  constructor(private readonly files: string[]) {}
  async take(from: number, count: number): Promise<Row[]> {
    const out: Row[] = [];
    while (out.length < count) {
      const want = from + out.length;
      while (want >= this.start + this.rows.length) {
        this.start += this.rows.length;
        this.file++;
        if (this.file >= this.files.length) throw new TrajforgeError('E_DATASET_INVALID', `data rows end before index ${want}`);
        this.rows = await readParquetRows(this.files[this.file]!);
      }
      out.push(this.rows[want - this.start]!);
    }
    return out;
  }
}
