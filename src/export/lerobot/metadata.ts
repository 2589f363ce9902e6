/** LeRobot metadata: the episode records, meta/episodes, meta/tasks, stats.json, the trajforge sidecar and info.json. */
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EpisodeData } from '../../dataset/episode.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { sourceJson } from '../../dataset/extras.js';
import { CODEBASE_VERSION, DATA_PATH, VIDEO_PATH, episodeStatFeatures, episodesPath, fileAddress, videoCameras, videoKey, type Feature } from './format.js';
import { ParquetFileWriter, parquetBytes, type ColumnDef } from '../../dataset/parquet.js';
import { dirBytes } from '../../dataset/sink.js';
import type { DatasetMeta, DatasetSummary } from '../../dataset/meta.js';
import { ImageHistogram, type FeatureStats } from '../../dataset/stats.js';
import { STAT_NAMES, type NumericCollector } from './stats.js';
import { datasetCard } from './card.js';

export interface EpisodeRecord {
  episode_index: number;
  source_episode: number;
  seed: number;
  length: number;
  success: boolean;
  return: number;
  /** Global index of the episode's first frame. */
  from_index: number;
  /** Per rgb camera: 256-bin histograms (exact image stats). */
  histograms: Record<string, ReturnType<ImageHistogram['toJSON']>>;
  /** Where the episode's frames sit (set at assembly). */
  video?: Record<string, { file: number; from_frame: number }>;
  data_file?: number;
  /** Per-episode stats of the small numeric features (for meta/episodes stats/ columns). */
  stats?: Record<string, FeatureStats>;
  /** Camera intrinsics and per-frame poses. */
  cameras?: EpisodeData['cameras'];
  /** Per-body tracks, the final observation and the action-less tail other formats need. */
  bodies?: EpisodeData['bodies'];
  collisions?: EpisodeData['collisions'];
  final_obs?: number[];
  /** Labelled episodes: the source file and frame range (EpisodeData.provenance). */
  provenance?: EpisodeData['provenance'];
  /** A merge of several runs: the episode's run in DatasetMeta.origins. */
  origin?: number;
  /** The meta/trajforge_episodes/chunk-CCC/file-FFF.npz holding its sidecar arrays (extras-files.ts). */
  extras_file?: number;
}

/**
 * Streams the metadata of a dataset being assembled (generate and merge): meta/episodes rows in
 * row groups, per-episode histograms folded into dataset totals and appended to the sidecar as
 * they come, so memory does not grow with the number of episodes; then tasks, stats, the
 * trajforge sidecar and info.json last.
 */
export class MetadataWriter {
  private readonly episodesWriter: ParquetFileWriter;
  private readonly episodesFile: string;
  private readonly sidecarLines: string;
  private readonly columns: ColumnDef[];
  private readonly keys: string[];
  private readonly statFeatures: string[];
  private buffer: Record<string, unknown[]> = {};
  private buffered = 0;
  private readonly hists = new Map<string, ImageHistogram>();
  private episodes = 0;
  private frames = 0;
  private successes = 0;

  constructor(
    private readonly dir: string,
    private readonly meta: DatasetMeta,
    private readonly features: Record<string, Feature>,
  ) {
    this.keys = videoCameras(meta).map((c) => videoKey(c.name));
    this.statFeatures = episodeStatFeatures(meta, features);
    this.columns = episodesColumns(this.keys, this.statFeatures, meta.source?.kind === 'labelled', meta.origins !== undefined);
    this.episodesFile = join(dir, episodesPath(0, 0));
    mkdirSync(join(this.episodesFile, '..'), { recursive: true });
    this.episodesWriter = new ParquetFileWriter(`${this.episodesFile}.tmp`, this.columns);
    this.sidecarLines = join(dir, 'meta', 'trajforge_episodes.jsonl');
    writeFileSync(`${this.sidecarLines}.tmp`, '');
  }

  add(e: EpisodeRecord): void {
    const push = (name: string, v: unknown) => (this.buffer[name] ??= []).push(v);
    const [dchunk, dfile] = fileAddress(e.data_file ?? 0, this.meta.run.layout.chunksSize);
    push('episode_index', BigInt(e.episode_index));
    push('tasks', [this.meta.instruction]);
    push('length', BigInt(e.length));
    push('data/chunk_index', BigInt(dchunk));
    push('data/file_index', BigInt(dfile));
    push('dataset_from_index', BigInt(e.from_index));
    push('dataset_to_index', BigInt(e.from_index + e.length));
    for (const k of this.keys) {
      const v = e.video![k]!;
      const [vchunk, vfile] = fileAddress(v.file, this.meta.run.layout.chunksSize);
      push(`videos/${k}/chunk_index`, BigInt(vchunk));
      push(`videos/${k}/file_index`, BigInt(vfile));
      // Integer frame counts divided once: no float drift along the file.
      push(`videos/${k}/from_timestamp`, v.from_frame / this.meta.fps);
      push(`videos/${k}/to_timestamp`, (v.from_frame + e.length) / this.meta.fps);
    }
    push('meta/episodes/chunk_index', 0n);
    push('meta/episodes/file_index', 0n);
    push('seed', BigInt(e.seed));
    push('source_episode', BigInt(e.source_episode));
    if (this.meta.origins) push('origin', BigInt(e.origin ?? 0));
    push('success', e.success);
    push('config_hash', this.meta.configHash);
    // 'simulation' is what plain runs have always written; dreamed, labelled and teleoperated episodes say so.
    const kind = this.meta.source?.kind;
    push('source', kind === 'world-model' || kind === 'labelled' || kind === 'teleop' ? kind : 'simulation');
    if (kind === 'labelled') {
      push('source_file', e.provenance?.file ?? '');
      push('source_from_frame', BigInt(e.provenance?.fromFrame ?? 0));
      push('source_to_frame', BigInt(e.provenance?.toFrame ?? 0));
    }
    for (const f of this.statFeatures) for (const st of STAT_NAMES) push(`stats/${f}/${st}`, e.stats![f]![st]);
    if (++this.buffered >= 256) this.flush();
    for (const [k, h] of Object.entries(e.histograms)) {
      const hist = ImageHistogram.fromJSON(h);
      if (this.hists.has(k)) this.hists.get(k)!.merge(hist);
      else this.hists.set(k, hist);
    }
    appendFileSync(`${this.sidecarLines}.tmp`, `${JSON.stringify({ ...sidecarEpisode(e), ...sourceFields(this.meta) })}\n`);
    this.episodes++;
    this.frames += e.length;
    if (e.success) this.successes++;
  }

  private flush(): void {
    this.episodesWriter.write(this.buffer, this.buffered);
    this.buffer = {};
    this.buffered = 0;
  }

  /** `numeric`: the dataset-wide stats of the non-video features (a NumericCollector, or stats kept from a source dataset). */
  finish(numeric: Pick<NumericCollector, 'stats'>): DatasetSummary {
    const { dir, meta, features } = this;
    if (this.buffered > 0) this.flush();
    this.episodesWriter.finish();
    renameSync(`${this.episodesFile}.tmp`, this.episodesFile);
    renameSync(`${this.sidecarLines}.tmp`, this.sidecarLines);
    writeTasks(dir, meta);
    const stats = numeric.stats();
    for (const [k, h] of this.hists) stats[k] = h.stats();
    writeFileAtomic(join(dir, 'meta', 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    writeFileAtomic(
      join(dir, 'meta', 'trajforge.json'),
      `${JSON.stringify({ env_id: meta.envId, config_hash: meta.configHash, config: meta.config, run: meta.run, fps: meta.fps, instruction: meta.instruction, observation_names: meta.observationNames, action_names: meta.actionNames, discrete: meta.discrete, cameras: meta.cameras, body_names: meta.bodyNames, episodes_file: 'meta/trajforge_episodes.jsonl', ...sidecarOptional(meta) }, null, 1)}\n`,
    );
    const info = {
      codebase_version: CODEBASE_VERSION,
      // Episodes without an environment (another tool's dataset converted, or video labelled by a
      // model of one) keep the robot type they came with: the card's or the source's id.
      robot_type: meta.config ? 'trajforge-sim' : meta.envId,
      total_episodes: this.episodes,
      total_frames: this.frames,
      total_tasks: 1,
      chunks_size: meta.run.layout.chunksSize,
      data_files_size_in_mb: meta.run.layout.dataFileMb,
      video_files_size_in_mb: meta.run.layout.videoFileMb,
      fps: meta.fps,
      splits: { train: `0:${this.episodes}` },
      data_path: DATA_PATH,
      video_path: this.keys.length > 0 ? VIDEO_PATH : null,
      features,
    };
    writeFileAtomic(join(dir, 'meta', 'info.json'), `${JSON.stringify(info, null, 4)}\n`);
    writeFileAtomic(join(dir, 'README.md'), datasetCard(meta, features, { episodes: this.episodes, frames: this.frames, successes: this.successes }));
    return { dir, episodes: this.episodes, frames: this.frames, successes: this.successes, bytes: dirBytes(dir) };
  }
}

/** run.json additions: present only when set, so plain runs stay byte-identical. */
export function optionalMeta(meta: DatasetMeta) {
  return { ...(meta.extraFeatures?.length ? { extraFeatures: meta.extraFeatures } : {}), ...(meta.source ? { source: meta.source } : {}) };
}

/** meta/trajforge.json additions (snake_case like the rest of the sidecar); read back by metaFromSidecar. */
function sidecarOptional(meta: DatasetMeta) {
  return {
    ...(meta.extraFeatures?.length ? { extra_features: meta.extraFeatures.map((x) => ({ key: x.key, dim: x.dim, ...(x.names ? { names: x.names } : {}), ...(x.modelId ? { model_id: x.modelId } : {}) })) } : {}),
    ...(meta.source ? { source: sourceJson(meta.source) } : {}),
    ...(meta.origins ? { origins: meta.origins } : {}),
  };
}

/** Provenance on every line of meta/trajforge_episodes.jsonl, so a single episode still says where it came from. */
function sourceFields(meta: DatasetMeta) {
  if (!meta.source) return {};
  const { kind, ...model } = sourceJson(meta.source);
  return { source: kind, ...model };
}

function sidecarEpisode(e: EpisodeRecord) {
  const p = e.provenance;
  const provenance = p ? { provenance: { file: p.file, from_frame: p.fromFrame, to_frame: p.toFrame, source_fps: p.sourceFps, source_width: p.sourceWidth, source_height: p.sourceHeight } } : {};
  return { episode_index: e.episode_index, source_episode: e.source_episode, ...(e.origin !== undefined ? { origin: e.origin } : {}), ...(e.extras_file !== undefined ? { extras_file: e.extras_file } : {}), seed: e.seed, length: e.length, success: e.success, return: e.return, bodies: e.bodies, collisions: e.collisions, histograms: e.histograms, ...provenance };
}

function episodesColumns(keys: string[], statFeatures: string[], labelled: boolean, origins: boolean): ColumnDef[] {
  const columns: ColumnDef[] = [
    { name: 'episode_index', dtype: 'int64', form: 'scalar' },
    { name: 'tasks', dtype: 'string', form: 'list' },
    { name: 'length', dtype: 'int64', form: 'scalar' },
    { name: 'data/chunk_index', dtype: 'int64', form: 'scalar' },
    { name: 'data/file_index', dtype: 'int64', form: 'scalar' },
    { name: 'dataset_from_index', dtype: 'int64', form: 'scalar' },
    { name: 'dataset_to_index', dtype: 'int64', form: 'scalar' },
    ...keys.flatMap((k): ColumnDef[] => [
      { name: `videos/${k}/chunk_index`, dtype: 'int64', form: 'scalar' },
      { name: `videos/${k}/file_index`, dtype: 'int64', form: 'scalar' },
      { name: `videos/${k}/from_timestamp`, dtype: 'float64', form: 'scalar' },
      { name: `videos/${k}/to_timestamp`, dtype: 'float64', form: 'scalar' },
    ]),
    { name: 'meta/episodes/chunk_index', dtype: 'int64', form: 'scalar' },
    { name: 'meta/episodes/file_index', dtype: 'int64', form: 'scalar' },
    { name: 'seed', dtype: 'int64', form: 'scalar' },
    { name: 'source_episode', dtype: 'int64', form: 'scalar' },
    ...(origins ? ([{ name: 'origin', dtype: 'int64', form: 'scalar' }] satisfies ColumnDef[]) : []),
    { name: 'success', dtype: 'bool', form: 'scalar' },
    { name: 'config_hash', dtype: 'string', form: 'scalar' },
    { name: 'source', dtype: 'string', form: 'scalar' },
    ...(labelled
      ? ([
          { name: 'source_file', dtype: 'string', form: 'scalar' },
          { name: 'source_from_frame', dtype: 'int64', form: 'scalar' },
          { name: 'source_to_frame', dtype: 'int64', form: 'scalar' },
        ] satisfies ColumnDef[])
      : []),
  ];
  for (const f of statFeatures) for (const s of STAT_NAMES) columns.push({ name: `stats/${f}/${s}`, dtype: 'float64', form: 'list' });
  return columns;
}

/** meta/tasks.parquet: a pandas frame indexed by the task string, with a task_index column. */
function writeTasks(dir: string, meta: DatasetMeta): void {
  const pandas = {
    index_columns: ['task'],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: [
      { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
      { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
    ],
    creator: { library: 'trajforge', version: '0.1.0' },
    pandas_version: '2.2.3',
  };
  const bytes = parquetBytes(
    {
      columns: [
        { name: 'task_index', dtype: 'int64', form: 'scalar' },
        { name: 'task', dtype: 'string', form: 'scalar' },
      ],
      data: { task_index: [0n], task: [meta.instruction] },
    },
    1,
    [{ key: 'pandas', value: JSON.stringify(pandas) }],
  );
  writeFileAtomic(join(dir, 'meta', 'tasks.parquet'), bytes);
}
