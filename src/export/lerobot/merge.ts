import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LOCK_FILE, MARKER_FILE } from '../../output/folder.js';
import { TrajforgeError } from '../../core/errors.js';
import { extraKeys, typedColumns } from './assemble.js';
import { MetadataWriter, type EpisodeRecord } from './metadata.js';
import { NumericCollector, addEpisodeStats } from './stats.js';
import { dataColumns, dataPath, episodeStatFeatures, fileAddress, lerobotFeatures, videoPath, type Feature } from './format.js';
import { datasetMeta, metaFromSidecar, type TrajforgeSidecar } from './episodes.js';
import { dataFiles, readEpisodesMeta, readInfo, readJson, readJsonLines, readParquetFooter, readParquetRows, RowCursor, type LeRobotInfo, type Row } from './reader.js';
import { frameTimestamps } from '../../video/ffmpeg.js';
import { RolloverParquetFiles } from '../../dataset/parquet.js';
import type { DatasetMeta, DatasetOrigin, DatasetSummary } from '../../dataset/meta.js';
import { transcodeVideo } from '../../video/transcode.js';
import { ExtrasFiles, ExtrasReader } from './extras-files.js';

type SidecarEpisode = Omit<EpisodeRecord, 'from_index'> & { source_episode: number; origin?: number };

/**
 * Merges trajforge LeRobot datasets of one environment config into one. The shards of one run
 * come out ordered by their run episode number k, exactly as a single run would write them; runs
 * with other settings (seeds, policies, episode counts, codecs) follow, run after run, and the
 * merged metadata records each run (DatasetMeta.origins) and each episode's run. Data rows are
 * re-indexed and rewritten; video files are copied as they are, or re-encoded into the first
 * input's codec when theirs differs, and episodes keep their offsets inside them; stats are
 * recomputed exactly (numeric from the rows, images from the per-episode histograms).
 */
/**
 * `onEpisode(done, total)` follows each episode written into the merged dataset; `names` are the
 * inputs as the user gave them (recorded in DatasetMeta.origins; default: the paths).
 */
export async function mergeLeRobot(inputs: string[], out: string, onEpisode?: (done: number, total: number) => void, names: string[] = inputs): Promise<DatasetSummary> {
  if (inputs.length === 0) throw new TrajforgeError('E_USAGE', 'merge needs at least one input dataset');
  // Every input is checked before anything is written: videos and sidecars are copied as they
  // are, so a damaged input would otherwise be propagated silently into the merged dataset.
  const shards: Shard[] = [];
  for (const dir of inputs) shards.push(await readShard(dir));
  const first = shards[0]!;
  for (const s of shards.slice(1)) checkCompatible(first, s);
  const runs = groupRuns(shards);
  const runOf = new Map(runs.flatMap((r, ri) => r.shards.map((si) => [si, ri] as const)));
  // Each run contributes its origins (one, or those of an input that is itself a merge of runs).
  const origins: DatasetOrigin[] = [];
  const originBase: number[] = [];
  for (const r of runs) {
    originBase.push(origins.length);
    const s = shards[r.shards[0]!]!;
    const episodes = r.shards.reduce((n, si) => n + shards[si]!.rows.length, 0);
    if (s.side.origins) origins.push(...s.side.origins);
    else origins.push({ datasets: r.shards.map((si) => names[si] ?? inputs[si]!), run: { ...s.side.run, shard: { index: 0, count: 1 } }, episodes });
  }
  const mixed = origins.length > 1;
  checkRunsOnce(runs, shards);
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
  for (const [si, s] of shards.entries()) s.rows.forEach((row, local) => sources.push({ shard: si, local, row, side: s.episodes[local]! }));
  // By run, then (inside an input that is itself a merge) by its runs, then by run episode number.
  sources.sort((a, b) => runOf.get(a.shard)! - runOf.get(b.shard)! || (a.side.origin ?? 0) - (b.side.origin ?? 0) || a.side.source_episode - b.side.source_episode || a.shard - b.shard);
  for (let i = 1; i < sources.length; i++) {
    const [a, b] = [sources[i - 1]!, sources[i]!];
    if (a.side.source_episode !== b.side.source_episode || runOf.get(a.shard) !== runOf.get(b.shard) || (a.side.origin ?? 0) !== (b.side.origin ?? 0)) continue;
    const [da, db] = [shards[a.shard]!.dir, shards[b.shard]!.dir];
    const why = a.shard === b.shard ? `appears twice in ${da}` : realpathSync(da) === realpathSync(db) ? `appears in both ${da} and ${db}, which are the same dataset given twice` : `appears in both ${da} and ${db}`;
    throw new TrajforgeError('E_DATASET_INVALID', `run episode ${a.side.source_episode} ${why}; merge the shards of one run, each once`);
  }
  for (const r of runs) checkEveryShard(r.shards.map((i) => shards[i]!), shards);
  for (const s of shards) await checkVideos(s);
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
        const from = join(s.dir, videoPath(k, chunk, file));
        if (sameEncoding(first, s, k)) copyFileSync(from, `${to}.tmp`);
        else await transcodeVideo(from, `${to}.tmp`, { ...videoSize(first, k), fps: first.info.fps, codec: first.side.run.codec, gop: first.side.run.gop });
        renameSync(`${to}.tmp`, to);
        videoMap.set(`${k}|${si}|${f}`, next++);
      }
    }
  }

  const side = first.side;
  const base = metaFromSidecar(side);
  delete base.origins;
  const meta: DatasetMeta = { ...base, run: { ...side.run, shard: { index: 0, count: 1 }, ...(mixed ? { episodes: sources.length } : {}) }, ...(mixed ? { origins } : {}) };
  // Data: rows rewritten in merged episode order, with new episode and global indices.
  const writerMeta = new MetadataWriter(out, meta, features);
  mkdirSync(join(out, 'meta', 'trajforge_episodes'), { recursive: true });
  const columns = dataColumns(features);
  const readers = shards.map((s) => new RowCursor(dataFiles(s.dir), s.dir));
  const numeric = new NumericCollector(features, extraKeys(meta));
  let index = 0;
  const layout = first.side.run.layout;
  const data = new RolloverParquetFiles((n) => join(out, dataPath(...fileAddress(n, layout.chunksSize))), layout.dataFileMb * 1024 * 1024);
  const extras = new ExtrasFiles(out, layout);
  try {
    for (const [ei, src] of sources.entries()) {
      const length = Number(src.row.length);
      const rows = await readers[src.shard]!.take(Number(src.row.dataset_from_index), length);
      const table: Record<string, unknown[]> = {};
      for (const c of columns) table[c.name] = rows.map((r) => normalize(r[c.name]));
      table.episode_index = rows.map(() => BigInt(ei));
      table.index = rows.map((_, t) => BigInt(index + t));
      await data.write(typedColumns(columns, features, table, length), length, rows.length * columns.length * 16);
      numeric.add(table, length);
      const record: EpisodeRecord = {
        episode_index: ei,
        source_episode: src.side.source_episode,
        ...(mixed ? { origin: originBase[runOf.get(src.shard)!]! + (src.side.origin ?? 0) } : {}),
        seed: src.side.seed,
        length,
        success: src.side.success,
        return: src.side.return,
        from_index: index,
        histograms: src.side.histograms,
        bodies: src.side.bodies,
        collisions: src.side.collisions,
        data_file: data.file,
        video: Object.fromEntries(
          videoKeys.map((k) => {
            const addr = `${Number(src.row[`videos/${k}/chunk_index`])}/${Number(src.row[`videos/${k}/file_index`])}`;
            return [k, { file: videoMap.get(`${k}|${src.shard}|${addr}`)!, from_frame: Math.round(Number(src.row[`videos/${k}/from_timestamp`]) * first.info.fps) }];
          }),
        ),
      };
      addEpisodeStats(table, [record], features, episodeStatFeatures(meta, features));
      record.extras_file = extras.add(ei, shards[src.shard]!.extras.episode(src.local, src.side).members());
      writerMeta.add(record);
      index += length;
      onEpisode?.(ei + 1, sources.length);
    }
  } catch (e) {
    // Nothing of a failed merge stays open (the output folder goes with the failure).
    data.abort();
    extras.abort();
    throw e;
  }
  await data.finish();
  extras.finish();
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

interface Shard {
  dir: string;
  info: LeRobotInfo;
  side: TrajforgeSidecar;
  /** Sidecar lines, one per episode, in dataset order. */
  episodes: SidecarEpisode[];
  /** meta/episodes rows, in dataset order. */
  rows: Row[];
  extras: ExtrasReader;
}

const num = (v: unknown) => Number(v);

/**
 * One input, read and checked file by file (everything but the videos, which checkVideos probes):
 * each reader names the file it finds damaged, and the files must agree with each other.
 */
async function readShard(dir: string): Promise<Shard> {
  const info = readInfo(dir);
  const sideFile = join(dir, 'meta', 'trajforge.json');
  if (!existsSync(sideFile)) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: no meta/trajforge.json; merge needs datasets written by trajforge`, { file: sideFile });
  const meta = datasetMeta(dir);
  const side = readJson<TrajforgeSidecar>(sideFile);
  checkSidecarAgainstInfo(dir, side, meta, info);

  const tasksFile = join(dir, 'meta', 'tasks.parquet');
  if (!existsSync(tasksFile)) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: meta/tasks.parquet is missing; regenerate the dataset or restore the file`, { file: tasksFile });
  const tasks = await readParquetRows(tasksFile);
  if (tasks.length !== info.total_tasks) throw new TrajforgeError('E_DATASET_INVALID', `${tasksFile}: ${tasks.length} tasks, meta/info.json says total_tasks ${info.total_tasks}; regenerate the dataset or restore the file`, { file: tasksFile });

  const rows = await readEpisodesMeta(dir);
  if (rows.length !== info.total_episodes) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: meta/episodes holds ${rows.length} episodes, meta/info.json says total_episodes ${info.total_episodes}; a file of meta/episodes is missing or damaged`, { file: join(dir, 'meta', 'episodes') });
  const episodesFile = join(dir, typeof side.episodes_file === 'string' ? side.episodes_file : join('meta', 'trajforge_episodes.jsonl'));
  const lines = readJsonLines(episodesFile);
  if (lines.length !== rows.length) throw new TrajforgeError('E_DATASET_INVALID', `${episodesFile}: ${lines.length} lines, meta/episodes holds ${rows.length} episodes (one line each); regenerate the dataset or restore the file`, { file: episodesFile });
  lines.forEach((l, i) => {
    if (!Number.isInteger(l.source_episode) || (l.source_episode as number) < 0) throw new TrajforgeError('E_DATASET_INVALID', `${episodesFile}:${i + 1}: source_episode: expected a non-negative integer, found ${JSON.stringify(l.source_episode) ?? 'nothing'}; regenerate the dataset or restore the file`, { file: episodesFile });
  });

  // Data rows: every file an episode points at exists; every file is structurally parquet (both
  // magics, a readable footer; read from the ends only) and together they hold every row.
  let need = 0;
  rows.forEach((r, i) => {
    const file = join(dir, dataPath(num(r['data/chunk_index']), num(r['data/file_index'])));
    if (!existsSync(file)) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: episode ${i}'s data file ${relative(dir, file)} is missing; restore it or regenerate the dataset`, { file });
    need = Math.max(need, num(r.dataset_to_index));
  });
  let held = 0;
  for (const file of dataFiles(dir)) held += Number(readParquetFooter(file).num_rows);
  if (held < need) throw new TrajforgeError('E_DATASET_INVALID', `${dir}: the data files hold ${held} rows, meta/episodes needs ${need}; a data file is truncated or missing: regenerate the dataset or restore it`, { file: join(dir, 'data') });

  // Sidecar arrays are copied as stored; reading each once here is what catches a damaged one.
  const extras = new ExtrasReader(dir, side.run.layout.chunksSize);
  lines.forEach((line, i) => extras.episode(i, line).verify());
  return { dir, info, side, episodes: lines as unknown as SidecarEpisode[], rows, extras };
}

const BOOKKEEPING = new Set(['next.reward', 'next.done', 'next.terminated', 'next.truncated', 'next.success', 'timestamp', 'frame_index', 'episode_index', 'index', 'task_index']);

/** trajforge.json and info.json describe the same features (the writer derives one from the other). */
function checkSidecarAgainstInfo(dir: string, side: TrajforgeSidecar, meta: DatasetMeta, info: LeRobotInfo): void {
  const sideFile = join(dir, 'meta', 'trajforge.json');
  const bad = (what: string) => new TrajforgeError('E_DATASET_INVALID', `${sideFile} does not match ${join(dir, 'meta', 'info.json')}: ${what}; one of them is damaged: regenerate the dataset or restore the files`, { file: sideFile });
  const layout = side.run?.layout as Partial<DatasetMeta['run']['layout']> | undefined;
  if (!layout || !(num(layout.chunksSize) > 0) || !(num(layout.dataFileMb) > 0)) throw new TrajforgeError('E_DATASET_INVALID', `${sideFile}: run.layout: expected chunksSize and dataFileMb as positive numbers, found ${JSON.stringify(layout) ?? 'nothing'}; regenerate the dataset or restore the file`, { file: sideFile });
  let derived: Record<string, Feature>;
  try {
    derived = lerobotFeatures(meta);
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `${sideFile}: cannot derive the dataset's features (${(e as Error).message}); regenerate the dataset or restore the file`, { file: sideFile });
  }
  // Only the features the sidecar's fields describe (state, action, cameras, extras): the
  // bookkeeping columns are the writer's, and a dataset from an older writer keeps its own.
  const described = (o: object) =>
    Object.keys(o)
      .filter((k) => !BOOKKEEPING.has(k))
      .sort()
      .join(', ');
  if (described(derived) !== described(info.features)) throw bad(`it describes the features ${described(derived)}, meta/info.json declares ${described(info.features)}`);
  for (const [k, f] of Object.entries(derived)) {
    const declared = info.features[k];
    if (!declared) continue;
    if (f.dtype !== declared.dtype || JSON.stringify(f.shape) !== JSON.stringify(declared.shape)) throw bad(`${k} is ${f.dtype} ${JSON.stringify(f.shape)} by meta/trajforge.json, ${declared.dtype} ${JSON.stringify(declared.shape)} by meta/info.json`);
  }
  if (side.fps !== info.fps) throw bad(`fps ${side.fps} vs ${info.fps}`);
}

/** How a video feature is encoded (meta/info.json): what a merge re-encodes for rather than copies. */
const ENCODING_KEYS = ['video.codec', 'video.pix_fmt', 'video.g', 'video.lossless'];

/** A feature as merged: a video feature without its encoding, which a merge may change. */
function mergedFeature(f: Feature | undefined): unknown {
  if (!f || f.dtype !== 'video' || !f.info) return f ?? null;
  return { ...f, info: Object.fromEntries(Object.entries(f.info).filter(([k]) => !ENCODING_KEYS.includes(k))) };
}

function sameEncoding(a: Shard, b: Shard, key: string): boolean {
  const [ia, ib] = [a.info.features[key]?.info ?? {}, b.info.features[key]?.info ?? {}];
  return ENCODING_KEYS.every((k) => JSON.stringify(ia[k]) === JSON.stringify(ib[k]));
}

function videoSize(s: Shard, key: string): { width: number; height: number } {
  const [height, width] = (s.info.features[key]!.shape ?? []).map(Number) as [number, number];
  return { width, height };
}

/**
 * The inputs hold episodes of one environment config with the same features and provenance kind:
 * the same config, fps, cameras, features (a video's encoding aside) and source; the first
 * difference is named. Their run settings may differ (groupRuns).
 */
function checkCompatible(first: Shard, s: Shard): void {
  const differ = (what: string, a: unknown, b: unknown) =>
    new TrajforgeError('E_DATASET_INVALID', `${s.dir}: ${what} is ${JSON.stringify(b)}, ${first.dir} has ${JSON.stringify(a)}; merge only datasets of one environment config (seeds, policies, episode counts and codecs may differ)`, { file: s.dir });
  if (s.side.config_hash !== first.side.config_hash) throw differ('the config hash (meta/trajforge.json config_hash)', first.side.config_hash, s.side.config_hash);
  if (s.info.fps !== first.info.fps) throw differ('fps (meta/info.json)', first.info.fps, s.info.fps);
  if (JSON.stringify(s.side.cameras) !== JSON.stringify(first.side.cameras)) throw differ('cameras (meta/trajforge.json)', first.side.cameras, s.side.cameras);
  const fa = first.info.features;
  const fb = s.info.features;
  for (const k of new Set([...Object.keys(fa), ...Object.keys(fb)])) {
    if (JSON.stringify(mergedFeature(fa[k])) !== JSON.stringify(mergedFeature(fb[k]))) throw differ(`feature ${k} (meta/info.json)`, fa[k] ?? null, fb[k] ?? null);
  }
  if (JSON.stringify(Object.keys(fa)) !== JSON.stringify(Object.keys(fb))) throw differ('the order of features (meta/info.json)', Object.keys(fa), Object.keys(fb));
  // Simulated and dreamed episodes (or two models' dreams) must not blend into one dataset.
  if (JSON.stringify(s.side.source ?? null) !== JSON.stringify(first.side.source ?? null)) throw differ('the source (simulator / world model / labelled / teleop, meta/trajforge.json source)', first.side.source ?? null, s.side.source ?? null);
}

/** A run's settings as merge compares them (the shard aside). */
function runKey(run: DatasetMeta['run']): string {
  const { shard: _shard, ...settings } = run;
  return JSON.stringify(settings);
}

/**
 * Each run goes in once: a run given on its own and again inside an input that is itself a merge
 * (or inside two such inputs) would be copied twice without a word; it is named instead.
 */
function checkRunsOnce(runs: { shards: number[] }[], shards: Shard[]): void {
  const seen = new Map<string, string>();
  for (const r of runs) {
    const s = shards[r.shards[0]!]!;
    const keys = s.side.origins ? s.side.origins.map((o) => runKey(o.run)) : [runKey(s.side.run)];
    for (const key of keys) {
      const other = seen.get(key);
      if (other !== undefined) throw new TrajforgeError('E_DATASET_INVALID', `${s.dir} holds a run that ${other} holds too (the same settings: ${key}); merge each run once`, { file: s.dir });
      seen.set(key, s.dir);
    }
  }
}

/** The first run setting two inputs differ in, with both values. */
function runDifference(a: Shard, b: Shard): string {
  const [ra, rb] = [a.side.run as unknown as Record<string, unknown>, b.side.run as unknown as Record<string, unknown>];
  const k = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].find((k) => k !== 'shard' && JSON.stringify(ra[k]) !== JSON.stringify(rb[k]));
  return k === undefined ? 'it is itself a merge of runs' : `run setting ${k} (meta/trajforge.json run.${k}) is ${JSON.stringify(rb[k] ?? null)} there, ${JSON.stringify(ra[k] ?? null)} here`;
}

/**
 * The inputs grouped by run, in order of first appearance: the shards of one run share every run
 * setting but the shard; an input that is itself a merge of several runs is a group of its own.
 */
function groupRuns(shards: Shard[]): { shards: number[] }[] {
  const groups = new Map<string, number[]>();
  shards.forEach((s, i) => {
    const key = s.side.origins ? `merged ${i}` : runKey(s.side.run);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  return [...groups.values()].map((shards) => ({ shards }));
}

/** The shards of one run (groupRuns): all of them must be there, or the merge would silently lack episodes. */
function checkEveryShard(shards: Shard[], all: Shard[]): void {
  const counts = [...new Set(shards.map((s) => s.side.run.shard.count))];
  if (counts.length > 1) {
    const [a, b] = [shards.find((s) => s.side.run.shard.count === counts[0])!, shards.find((s) => s.side.run.shard.count === counts[1])!];
    throw new TrajforgeError('E_DATASET_INVALID', `${b.dir} is a shard of ${counts[1]} (meta/trajforge.json run.shard.count), ${a.dir} of ${counts[0]}; merge the shards of one run`, { file: b.dir });
  }
  const count = counts[0]!;
  const present = new Set(shards.map((s) => s.side.run.shard.index));
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
  if (missing.length > 0) {
    // A missing shard given with other settings is the likelier mistake: name the setting.
    const lookalike = all.find((s) => !shards.includes(s) && s.side.run.shard.count === count && missing.includes(s.side.run.shard.index));
    const why = lookalike ? `; ${lookalike.dir} is shard ${lookalike.side.run.shard.index} of ${count} but of another run: ${runDifference(shards[0]!, lookalike)}` : '';
    throw new TrajforgeError(
      'E_DATASET_INVALID',
      `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing from the run of ${shards[0]!.dir}: the run was split into ${count} shards (--shard i/${count}) and the merged dataset would lack their episodes; pass every shard's folder (or finish the missing ones first)${why}`,
      { file: shards[0]!.dir },
    );
  }
}

/**
 * Each video file the episodes point at exists and ffmpeg reads from it exactly the frames the
 * episodes place in it. One stream-copy probe per file (no decoding): truncated and garbled
 * containers fail to open or come up short, and the copy would otherwise carry them on unseen.
 */
async function checkVideos(s: Shard): Promise<void> {
  const { dir, info, rows } = s;
  const keys = Object.entries(info.features).filter(([, f]) => f.dtype === 'video').map(([k]) => k);
  const frames = new Map<string, number>();
  for (const k of keys) {
    for (const r of rows) {
      const file = join(dir, videoPath(k, num(r[`videos/${k}/chunk_index`]), num(r[`videos/${k}/file_index`])));
      const end = Math.round(num(r[`videos/${k}/from_timestamp`]) * info.fps) + num(r.length);
      frames.set(file, Math.max(frames.get(file) ?? 0, end));
    }
  }
  for (const [file, want] of frames) {
    const damaged = (what: string) => new TrajforgeError('E_DATASET_INVALID', `${file}: ${what}; it is damaged or truncated: restore the file or regenerate the dataset`, { file });
    if (!existsSync(file)) throw new TrajforgeError('E_DATASET_INVALID', `${file} is missing (meta/episodes of ${dir} places frames in it); restore it or regenerate the dataset`, { file });
    if (statSync(file).size === 0) throw damaged('empty (0 bytes)');
    let count: number;
    try {
      count = (await frameTimestamps(file)).length;
    } catch (e) {
      // ffmpeg that does not start is the machine's problem, not the file's.
      if (e instanceof TrajforgeError && /cannot run ffmpeg|FFMPEG_PATH/.test(e.message)) throw e;
      const why = (e as Error).message.split('\n').at(-1)!.replace(/^.*?: /, '');
      throw damaged(`ffmpeg cannot read it (${why})`);
    }
    if (count !== want) throw damaged(`ffmpeg reads ${count} frames from it, meta/episodes places ${want} in it`);
  }
}
