import { constants, copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { TrajforgeError } from '../../core/errors.js';
import { LOCK_FILE, MARKER_FILE } from '../../output/folder.js';
import { MetadataWriter, type EpisodeRecord } from './metadata.js';
import { NumericCollector, STAT_NAMES } from './stats.js';
import { dataColumns, episodeStatFeatures, lerobotFeatures, type Feature } from './format.js';
import { metaFromSidecar, type TrajforgeSidecar } from './episodes.js';
import { normalize } from './merge.js';
import { dataFiles, readEpisodesMeta, readInfo, readJson, readJsonLines, type Row } from './reader.js';
import { npzBytes, zipEntries, type NpyArray } from '../../dataset/npz.js';
import { ExtrasFiles, ExtrasReader, type EpisodeExtras } from './extras-files.js';
import { ArrowParquetFile, arrowData, readArrowBatches } from '../../dataset/parquet.js';
import { numericStats, type FeatureStats } from '../../dataset/stats.js';
import type { DatasetMeta, DatasetSummary, ExtraFeature } from '../../dataset/meta.js';
import { removeEmptyFolder, removeOwn } from '../../output/remove.js';

/** One episode's values of the added feature: `length × dim` per-step values, and optionally the final observation's. */
export interface FeatureValues {
  data: Float32Array;
  final?: Float32Array;
}

type SidecarEpisode = Omit<EpisodeRecord, 'from_index'> & { source_episode: number };

/**
 * A new version of a trajforge LeRobot dataset with one extra per-step float feature added (or,
 * when the source already has a feature of that key, replaced in place). Only the tables are
 * rewritten: data parquet files (same files, same rows, the new float32 column where the LeRobot
 * writer puts extras), meta/episodes (the feature's per-episode stats), meta/stats.json (the
 * feature's stats; the others are kept as they are), meta/info.json, the trajforge sidecars
 * (`extra_features`, the npz `final_extra/<key>`). Video files are hard-linked where possible,
 * otherwise copied: byte-identical, never re-encoded, and every episode keeps its place in them.
 *
 * `valuesFor` is called once per episode, in episode order (0, 1, ...), and may be async.
 * Atomic: everything is written to a staging folder inside `out` and moved into place at the
 * end; on failure nothing is left at `out`.
 */
export async function addFeatureToLeRobot(
  src: string,
  out: string,
  feature: ExtraFeature,
  valuesFor: (episodeIndex: number) => FeatureValues | Promise<FeatureValues>,
): Promise<DatasetSummary> {
  const info = readInfo(src);
  const sideFile = join(src, 'meta', 'trajforge.json');
  if (!existsSync(sideFile)) throw new TrajforgeError('E_DATASET_INVALID', `${src}: no meta/trajforge.json; adding a feature needs a dataset written by trajforge`);
  const side = readJson<TrajforgeSidecar>(sideFile);
  const srcMeta = metaFromSidecar(side);
  const existing = srcMeta.extraFeatures ?? [];
  const declared: ExtraFeature = { key: feature.key, dim: feature.dim, ...(feature.names ? { names: feature.names } : {}), ...(feature.modelId ? { modelId: feature.modelId } : {}) };
  // A replaced feature keeps its place among the extras; a new one goes last.
  const extraFeatures = existing.some((x) => x.key === feature.key) ? existing.map((x) => (x.key === feature.key ? declared : x)) : [...existing, declared];
  const meta: DatasetMeta = { ...srcMeta, extraFeatures };
  const key = feature.key;
  const D = feature.dim;

  // The writer's declaration (checks the key: no clash, no '/'); every other feature keeps the source's declaration.
  const generated = lerobotFeatures(meta);
  const srcFeatures = info.features;
  const others = (keys: string[]) => keys.filter((k) => k !== key).sort().join(',');
  if (others(Object.keys(generated)) !== others(Object.keys(srcFeatures))) {
    throw new TrajforgeError('E_DATASET_INVALID', `${src}: meta/info.json features do not match its meta/trajforge.json (${others(Object.keys(srcFeatures))})`);
  }
  const features: Record<string, Feature> = Object.fromEntries(Object.entries(generated).map(([k, f]) => [k, k === key ? f : srcFeatures[k]!]));
  const videoKeys = Object.entries(features).filter(([, f]) => f.dtype === 'video').map(([k]) => k);
  const chunksSize = side.run.layout.chunksSize;

  if (existsSync(out) && readdirSync(out).some((e) => e !== LOCK_FILE && e !== MARKER_FILE)) throw new TrajforgeError('E_DATASET_EXISTS', `${out} exists and is not empty`);
  const rows = await readEpisodesMeta(src);
  const sideEpisodes = readJsonLines(join(src, side.episodes_file)) as unknown as SidecarEpisode[];
  if (sideEpisodes.length !== rows.length) throw new TrajforgeError('E_DATASET_INVALID', `${src}: ${side.episodes_file} has ${sideEpisodes.length} episodes, meta/episodes ${rows.length}`);
  const srcStats = readJson<Record<string, unknown>>(join(src, 'meta', 'stats.json'));

  // Staged inside `out` (a `.trajforge*` name, the tool's own), so nothing is written beside it.
  const createdOut = !existsSync(out);
  const tmp = join(out, `.trajforge-encode-${process.pid}`);
  removeOwn(tmp);
  mkdirSync(tmp, { recursive: true });
  let extrasOut: ExtrasFiles | null = null;
  let writer: ArrowParquetFile | null = null;
  try {
    // Videos: the same files at the same paths.
    if (existsSync(join(src, 'videos'))) linkTree(join(src, 'videos'), join(tmp, 'videos'));

    const writerMeta = new MetadataWriter(tmp, meta, features);
    mkdirSync(join(tmp, 'meta', 'trajforge_episodes'), { recursive: true });
    const extrasIn = new ExtrasReader(src, chunksSize);
    extrasOut = new ExtrasFiles(tmp, { chunksSize, dataFileMb: side.run.layout.dataFileMb });
    const extrasTo = extrasOut;
    const columns = dataColumns(features);
    const statFeatures = episodeStatFeatures(meta, features);
    const numeric = new NumericCollector({ [key]: features[key]! }, [key]);

    // The next episode's values, its metadata and sidecar written as it comes (in episode order).
    let next = 0;
    let index = 0; // global index of the next data row
    const nextEpisode = async (): Promise<{ from: number; length: number; data: Float32Array }> => {
      const e = next++;
      const row = rows[e];
      if (!row) throw new TrajforgeError('E_DATASET_INVALID', `${src}: the data files hold more rows than meta/episodes covers`);
      const length = Number(row.length);
      const from = Number(row.dataset_from_index);
      if (from !== index) throw new TrajforgeError('E_DATASET_INVALID', `${src}: episode ${e} starts at index ${from}, expected ${index} (episodes must be contiguous)`);
      const values = await valuesFor(e);
      if (values.data.length !== length * D) throw new TrajforgeError('E_INTERNAL', `episode ${e}: ${key} holds ${values.data.length} values, expected length × dim = ${length * D}`);
      if (values.final && values.final.length !== D) throw new TrajforgeError('E_INTERNAL', `episode ${e}: ${key} final holds ${values.final.length} values, expected ${D}`);
      numeric.add({ [key]: D === 1 ? Array.from(values.data) : Array.from({ length }, (_, t) => values.data.subarray(t * D, (t + 1) * D)) }, length);
      const s = sideEpisodes[e]!;
      const record: EpisodeRecord = {
        episode_index: e,
        source_episode: s.source_episode,
        ...(s.origin !== undefined ? { origin: s.origin } : {}),
        seed: s.seed,
        length,
        success: s.success,
        return: s.return,
        from_index: from,
        histograms: s.histograms,
        bodies: s.bodies,
        collisions: s.collisions,
        data_file: Number(row['data/chunk_index']) * chunksSize + Number(row['data/file_index']),
        video: Object.fromEntries(
          videoKeys.map((k) => [k, { file: Number(row[`videos/${k}/chunk_index`]) * chunksSize + Number(row[`videos/${k}/file_index`]), from_frame: Math.round(Number(row[`videos/${k}/from_timestamp`]) * info.fps) }]),
        ),
        // The feature's per-episode stats computed, every other feature's kept from the source.
        stats: Object.fromEntries(statFeatures.map((f) => [f, f === key ? numericStats(values.data, length, D) : keptStats(row, f, src, e)])),
      };
      record.extras_file = copyEpisodeSidecar(extrasIn.episode(e, s), extrasTo, e, key, D, values.final);
      writerMeta.add(record);
      return { from, length, data: values.data };
    };

    // Data files: each source file rewritten at its path, batch by batch (Arrow, columnar): every
    // column taken as it is, the feature's made from the values; rows, files and addresses unchanged.
    let episode: { from: number; length: number; data: Float32Array } = { from: 0, length: 0, data: new Float32Array(0) };
    for (const file of dataFiles(src)) {
      writer = new ArrowParquetFile(join(tmp, relative(src, file)));
      for (const batch of readArrowBatches(file)) {
        const n = batch.numRows;
        const first = batch.getChild('index')?.get(0) as bigint | number | undefined;
        if (n > 0 && Number(first) !== index) throw new TrajforgeError('E_DATASET_INVALID', `${relative(src, file)}: row with index ${String(first)} at position ${index}`);
        const col = new Float32Array(n * D);
        for (let filled = 0; filled < n; ) {
          while (index >= episode.from + episode.length) episode = await nextEpisode();
          const take = Math.min(n - filled, episode.from + episode.length - index);
          const at = index - episode.from;
          col.set(episode.data.subarray(at * D, (at + take) * D), filled * D);
          filled += take;
          index += take;
        }
        writer.writeData(
          columns.map((c) => {
            if (c.name === key) return { name: key, data: arrowData({ def: c, dims: D, values: col }, n) };
            const child = batch.getChild(c.name);
            if (!child) throw new TrajforgeError('E_DATASET_INVALID', `${relative(src, file)}: no column ${c.name}`);
            return { name: c.name, data: child.data[0]! };
          }),
          n,
        );
      }
      const w = writer;
      writer = null;
      await w.finish();
    }
    // Episodes past the last row (empty ones) still get their values asked for and their metadata.
    while (next < rows.length) await nextEpisode();
    if (index !== Number(info.total_frames)) throw new TrajforgeError('E_DATASET_INVALID', `${src}: data files hold ${index} rows, info.total_frames is ${info.total_frames}`);

    // stats.json: the source's stats with the feature's recomputed (features order, then the rest as they were).
    const computed = numeric.stats()[key]!;
    const stats: Record<string, unknown> = {};
    for (const k of Object.keys(features)) if (k === key) stats[k] = computed;
    else if (k in srcStats) stats[k] = srcStats[k];
    for (const [k, v] of Object.entries(srcStats)) if (!(k in stats)) stats[k] = v;
    extrasTo.finish();
    const summary = writerMeta.finish({ stats: () => stats as ReturnType<NumericCollector['stats']> });

    // `out` holds nothing else (checked above): the entries move up one by one, and a failure
    // midway moves the ones already moved back into the staging folder, which then goes.
    const moved: string[] = [];
    try {
      for (const e of readdirSync(tmp)) {
        renameSync(join(tmp, e), join(out, e));
        moved.push(e);
      }
    } catch (e) {
      for (const m of moved) renameSync(join(out, m), join(tmp, m));
      throw e;
    }
    removeOwn(tmp);
    return { ...summary, dir: out };
  } catch (err) {
    (extrasOut as ExtrasFiles | null)?.abort();
    if (writer) await (writer as ArrowParquetFile).finish().catch(() => undefined);
    removeOwn(tmp);
    if (createdOut) removeEmptyFolder(out);
    throw err;
  }
}

/** A feature's per-episode stats as the source's meta/episodes has them. */
function keptStats(row: Row, f: string, src: string, episode: number): FeatureStats {
  return Object.fromEntries(
    STAT_NAMES.map((st) => {
      const v = row[`stats/${f}/${st}`];
      if (v === undefined || v === null) throw new TrajforgeError('E_DATASET_INVALID', `${src}: meta/episodes row ${episode} has no stats/${f}/${st}`);
      return [st, normalize(v) as number[]];
    }),
  ) as unknown as FeatureStats;
}

/**
 * The episode's sidecar arrays with `final_extra/<key>` set to `final` (replaced in place, or
 * placed after the other final values as the LeRobot writer orders them), or removed when there is
 * none; copied as stored when there is nothing to change. Returns the file they went to.
 */
function copyEpisodeSidecar(from: EpisodeExtras, to: ExtrasFiles, episode: number, key: string, dim: number, final: Float32Array | undefined): number {
  const name = `final_extra/${key}`;
  const members = from.members();
  const names = members.map((m) => m.name.replace(/\.npy$/, ''));
  if (!final && !names.includes(name)) return to.add(episode, members);
  const arrays = Object.fromEntries(names.map((n) => [n, from.get(n)]));
  let next: Record<string, NpyArray>;
  if (!final) next = Object.fromEntries(Object.entries(arrays).filter(([k]) => k !== name));
  else {
    const value: NpyArray = { dtype: '<f4', shape: [dim], data: final };
    if (name in arrays) next = { ...arrays, [name]: value };
    else {
      const entries = Object.entries(arrays);
      let at = entries.length;
      entries.forEach(([k], i) => {
        if (k === 'final_obs' || k.startsWith('final/') || k.startsWith('final_extra/')) at = i + 1;
      });
      next = Object.fromEntries([...entries.slice(0, at), [name, value], ...entries.slice(at)]);
    }
  }
  return to.add(episode, zipEntries(npzBytes(next)));
}

/** Every file under `from` at the same relative path under `to`, hard-linked where possible, else copied. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from).sort()) {
    const a = join(from, name);
    const b = join(to, relative(from, a));
    if (statSync(a).isDirectory()) linkTree(a, b);
    else linkOrCopy(a, b);
  }
}

function linkOrCopy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    // Another file system, or links not allowed: a copy (copy-on-write where the file system can).
    copyFileSync(from, to, constants.COPYFILE_FICLONE);
  }
}
