/** Dataset metadata: what every writer knows about a run before its first episode, built in one place. */
import { observationNames } from '../config/names.js';
import type { ResolvedEnv } from '../config/parse.js';
import type { EnvConfig } from '../config/schema.js';
import type { Channel } from '../render/renderer.js';
import { baseBodies } from '../sim/describe.js';
import type { VideoCodec } from '../video/ffmpeg.js';

/** What a dataset writer knows about the run before the first episode arrives. */
export interface DatasetMeta {
  envId: string;
  /** The environment the episodes were simulated in; absent for episodes labelled from video by a model of another tool's dataset (no environment file exists). */
  config?: EnvConfig;
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
  /**
   * A dataset merged from runs with different settings (seeds, policies, codecs, ...): each run's
   * settings and input folders, in the merged order; every episode names its run (`origin`).
   * `run` then describes the merged dataset's own files (the first run's codec and layout).
   */
  origins?: DatasetOrigin[];
  run: {
    seed: number;
    /** Episodes of the whole run (before sharding). */
    episodes: number;
    shard: { index: number; count: number };
    /** An ONNX policy (kind `onnx`) adds its file as given and the file's sha256. */
    policy: { kind: string; noise: number; epsilon: number; file?: string; sha256?: string };
    codec: VideoCodec;
    gop: number;
    /** Episodes per checkpoint (resume granularity). */
    checkpoint: number;
    /** File rollover thresholds. */
    layout: { chunksSize: number; dataFileMb: number; videoFileMb: number };
  };
}

export interface DatasetOrigin {
  /** The input folders (as given to merge) that held this run's episodes. */
  datasets: string[];
  run: DatasetMeta['run'];
  /** How many of the merged episodes came from this run. */
  episodes: number;
}

export interface ExtraFeature {
  key: string;
  dim: number;
  names?: string[];
  /** The world model whose encoder computed it (a latent): a policy over it runs with that model only. */
  modelId?: string;
}

/**
 * Provenance: `world-model` marks episodes dreamed by a learned model rather than simulated;
 * `labelled` marks frames from video (or another dataset) whose actions a model's inverse
 * dynamics inferred (trajforge label); `teleop` marks simulated episodes a person drove in
 * `trajforge play` (each re-simulated from its seed and actions before it was written).
 */
export interface DatasetSource {
  kind: 'simulator' | 'world-model' | 'labelled' | 'teleop';
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

/** The record generate keeps of a run's settings in its output folder (every format; see pipeline/generate.ts). */
export const RUN_SETTINGS = '.trajforge-run.json';

/** File rollover thresholds of a dataset (LeRobot's defaults; smaller values are for tests and tiny datasets). */
export interface Layout {
  chunksSize: number;
  dataFileMb: number;
  videoFileMb: number;
}
export const DEFAULT_LAYOUT: Layout = { chunksSize: 1000, dataFileMb: 100, videoFileMb: 200 };

/** The environment's part of a dataset's metadata; the caller adds cameras, the run and provenance. */
export function datasetMeta(
  env: ResolvedEnv,
  rest: Pick<DatasetMeta, 'cameras' | 'run'> & Partial<Pick<DatasetMeta, 'source' | 'extraFeatures'>>,
): DatasetMeta {
  const cfg = env.config;
  return {
    envId: cfg.id,
    config: cfg,
    configHash: env.hash,
    instruction: cfg.task.instruction || cfg.description || cfg.id,
    fps: Math.round(1 / (cfg.world.timestep * cfg.world.substeps)),
    observationNames: observationNames(cfg),
    actionNames: cfg.actions.actuators.map((a) => a.name),
    discrete: cfg.actions.discrete !== undefined,
    cameras: rest.cameras,
    bodyNames: baseBodies(cfg).map((b) => b.name),
    ...(rest.extraFeatures ? { extraFeatures: rest.extraFeatures } : {}),
    ...(rest.source ? { source: rest.source } : {}),
    run: rest.run,
  };
}
