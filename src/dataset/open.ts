/**
 * openDataset: a trajforge dataset folder as a typed handle (metadata plus an async iterator of
 * episodes with their decoded frames). It reads the LeRobot v3 datasets trajforge writes, the
 * only format that keeps everything an episode holds; a folder in another format is named as
 * such, with what to do, rather than half-read.
 */
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { LOCK_FILE, MARKER_FILE } from '../output/folder.js';
import { readJson } from './json.js';
import { RUN_SETTINGS } from './meta.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { foreignLayout, readForeignEpisodes } from '../export/lerobot/foreign.js';
import { readInfo } from '../export/lerobot/reader.js';
import { CHANNELS, type Channel } from '../render/renderer.js';
import type { ChannelFrames, EpisodeData } from './episode.js';
import type { DatasetMeta } from './meta.js';

/** The metadata fields a dataset's reader gets as the writer had them (see DatasetMeta). */
type MetaFields = 'envId' | 'configHash' | 'instruction' | 'fps' | 'observationNames' | 'actionNames' | 'discrete' | 'cameras' | 'bodyNames' | 'extraFeatures' | 'source';

/** What a dataset holds, from its metadata (nothing decoded yet). */
export interface DatasetInfo extends Pick<DatasetMeta, MetaFields> {
  /** The LeRobot folder read: the folder given, or its `lerobot/` part when several formats were written. */
  dir: string;
  format: 'lerobot';
  /**
   * `trajforge`: every field is filled. `other`: a LeRobot v3 dataset from another tool: what
   * LeRobot defines is read (states, actions, rewards, tasks, rgb video); `configHash` is '',
   * `envId` is the robot type (or the folder's name), `bodyNames` is empty, and episodes carry no
   * seed (-1), final observation, body or camera tracks.
   */
  writtenBy: 'trajforge' | 'other';
  /** LeRobot's codebase version (`v3.0`). */
  codebaseVersion: string;
  episodes: number;
  /** Steps over all episodes (the final observation of each episode not counted). */
  frames: number;
}

/**
 * One episode: flat row-major typed arrays, row t = observation t, the action taken there, and
 * what followed. `obs` is T × observationNames, `actions` T × actionDim, `rewards`/`terminated`/
 * `truncated`/`success` T; `frames` holds each camera channel's T frames (`finalFrames` and
 * `finalObs` the observation after the last step).
 */
export interface DatasetEpisode extends EpisodeData {
  /** Position in the dataset, 0-based. */
  index: number;
  /** One camera channel's frames (T of them, see ChannelFrames for the layout); E_USAGE names those read when absent. */
  channel(camera: string, channel?: Channel): ChannelFrames;
}

export interface EpisodeReadOptions {
  /** Only these channels' frames (default: all the dataset has; `[]`: no frames, the fastest). */
  channels?: readonly Channel[];
}

export interface Dataset {
  readonly dir: string;
  readonly info: DatasetInfo;
  /**
   * The episodes in order, one at a time (memory stays at one episode). Video is decoded by
   * ffmpeg as the iteration goes; leaving a `for await` loop early stops the decoders.
   */
  episodes(options?: EpisodeReadOptions): AsyncGenerator<DatasetEpisode, void, undefined>;
  /** Ends every iteration still open. The handle is unusable afterwards; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens a LeRobot v3 dataset folder: one trajforge wrote (`generateDataset`, `trajforge generate`,
 * `convert`, `merge`, `dream`) with everything it records, or one from another tool with what
 * LeRobot defines (see DatasetInfo.writtenBy).
 */
export async function openDataset(dir: string): Promise<Dataset> {
  if (typeof dir !== 'string' || dir === '') throw new TrajforgeError('E_USAGE', 'openDataset needs a dataset folder');
  const root = resolve(dir);
  const { dir: lerobot, ours } = locateLeRobot(root, dir);
  if (!ours) {
    const layout = await foreignLayout(lerobot);
    const info: DatasetInfo = {
      dir: lerobot,
      format: 'lerobot',
      writtenBy: 'other',
      codebaseVersion: layout.info.codebase_version,
      envId: typeof layout.info.robot_type === 'string' && layout.info.robot_type ? layout.info.robot_type : basename(lerobot),
      configHash: '',
      instruction: layout.instruction,
      fps: layout.info.fps,
      observationNames: layout.observationNames,
      actionNames: layout.actionNames,
      discrete: false,
      cameras: layout.cameras.map((c) => ({ name: c.name, width: c.width, height: c.height, channels: ['rgb'] as Channel[] })),
      bodyNames: [],
      episodes: layout.info.total_episodes,
      frames: layout.info.total_frames,
    };
    return new LeRobotDataset(lerobot, info, (channels) => readForeignEpisodes(lerobot, layout, channels === undefined || channels.includes('rgb')));
  }
  const info = readInfo(lerobot);
  const { envId, configHash, instruction, fps, observationNames, actionNames, discrete, cameras, bodyNames, extraFeatures, source } = datasetMeta(lerobot);
  const datasetInfo: DatasetInfo = {
    dir: lerobot,
    format: 'lerobot',
    writtenBy: 'trajforge',
    codebaseVersion: info.codebase_version,
    envId,
    configHash,
    instruction,
    fps,
    observationNames,
    actionNames,
    discrete,
    cameras: cameras.map((c) => ({ ...c, channels: [...c.channels] })),
    bodyNames,
    episodes: info.total_episodes,
    frames: info.total_frames,
    ...(extraFeatures ? { extraFeatures } : {}),
    ...(source ? { source } : {}),
  };
  return new LeRobotDataset(lerobot, datasetInfo, (channels) => readLeRobotEpisodes(lerobot, channels ? { channels } : {}));
}

class LeRobotDataset implements Dataset {
  private readonly open = new Set<AsyncGenerator<DatasetEpisode, void, undefined>>();
  private closed = false;

  constructor(
    readonly dir: string,
    readonly info: DatasetInfo,
    private readonly reader: (channels: readonly Channel[] | undefined) => AsyncGenerator<EpisodeData>,
  ) {}

  episodes(options: EpisodeReadOptions = {}): AsyncGenerator<DatasetEpisode, void, undefined> {
    if (this.closed) throw new TrajforgeError('E_USAGE', `${this.dir}: the dataset was closed; open it again with openDataset`);
    const channels = options.channels;
    if (channels !== undefined) {
      if (!Array.isArray(channels)) throw new TrajforgeError('E_USAGE', `episodes: channels must be a list of channel names (${CHANNELS.join(', ')})`);
      for (const c of channels) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `episodes: unknown channel '${String(c)}' (known: ${CHANNELS.join(', ')})`);
    }
    const gen: AsyncGenerator<DatasetEpisode, void, undefined> = this.read(channels, () => this.open.delete(gen));
    this.open.add(gen);
    return gen;
  }

  private async *read(channels: readonly Channel[] | undefined, done: () => void): AsyncGenerator<DatasetEpisode, void, undefined> {
    let index = 0;
    try {
      for await (const ep of this.reader(channels)) {
        const i = index++;
        yield Object.assign(ep, { index: i, channel: (camera: string, channel: Channel = 'rgb') => findChannel(ep, i, camera, channel) });
      }
    } finally {
      done();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.open];
    this.open.clear();
    // return() runs each reader's finally (its ffmpeg decoders stop); a generator that is already done resolves at once.
    await Promise.all(open.map((g) => g.return(undefined).catch(() => undefined)));
  }
}

function findChannel(ep: EpisodeData, index: number, camera: string, channel: Channel): ChannelFrames {
  const found = ep.frames.find((f) => f.camera === camera && f.channel === channel);
  if (!found) {
    const have = ep.frames.map((f) => `${f.camera}.${f.channel}`);
    throw new TrajforgeError('E_USAGE', `episode ${index} has no ${camera}.${channel} frames (read: ${have.length ? have.join(', ') : 'none; pass channels to episodes() to read some'})`);
  }
  return found;
}

const FORMAT_NAMES: Record<string, string> = {
  lerobot: 'LeRobot v3',
  dreamer: 'DreamerV3 replay',
  minari: 'Minari (HDF5)',
  rlds: 'RLDS (TFDS)',
  frames: 'per-frame folders (Kubric style)',
};

/**
 * The LeRobot folder to read for `root`: itself, or `root/lerobot` when a run wrote several
 * formats. Anything else is E_DATASET_INVALID naming what the folder holds and what to do.
 */
function locateLeRobot(root: string, given: string): { dir: string; ours: boolean } {
  if (!existsSync(root)) throw invalid(root, `${given}: no such folder`, 'pass the folder generateDataset (or `trajforge generate --out`) wrote');
  if (!statSync(root).isDirectory()) throw invalid(root, `${given} is a file, not a dataset folder`, 'pass the folder generateDataset (or `trajforge generate --out`) wrote');
  const hasInfo = (d: string) => existsSync(join(d, 'meta', 'info.json'));
  const ours = (d: string) => existsSync(join(d, 'meta', 'trajforge.json'));
  if (hasInfo(root)) return { dir: root, ours: ours(root) };
  if (hasInfo(join(root, 'lerobot'))) return { dir: join(root, 'lerobot'), ours: ours(join(root, 'lerobot')) };

  const entries = readdirSync(root, { withFileTypes: true });
  const names = entries.map((e) => e.name);
  const recorded = recordedFormat(root);
  const formats = recorded ? recorded.split(',').map((f) => f.trim()) : detectFormats(root, entries);
  const advice = "this reads LeRobot datasets: write one with `trajforge generate --format lerobot` (or 'lerobot,<other>' for both from one run), or generateDataset({ format: 'lerobot' })";
  if (formats.length > 0 && !formats.includes('lerobot')) {
    throw invalid(root, `${root} holds trajforge's ${formats.map((f) => FORMAT_NAMES[f] ?? f).join(' + ')} output, not a LeRobot dataset`, advice);
  }
  if (existsSync(join(root, '.trajforge')) || names.some((n) => n.startsWith('.trajforge-') && n !== RUN_SETTINGS && n !== MARKER_FILE)) {
    throw invalid(root, `${root} holds an unfinished trajforge run (staging folders, no meta/info.json)`, 'finish it with generateDataset({ ..., resume: true }) (or `trajforge generate ... --resume`) before reading it');
  }
  if (names.includes('model.json')) throw invalid(root, `${root} is a world model folder (model.json), not a dataset`, 'pass it as --model (or load it with loadWorldModel)');
  const datasetsInside = entries.filter((e) => e.isDirectory() && hasInfo(join(root, e.name))).map((e) => join(root, e.name));
  if (datasetsInside.length > 0) {
    throw invalid(root, `${root} is not a dataset, but holds ${datasetsInside.length === 1 ? 'one' : datasetsInside.length}: ${datasetsInside.slice(0, 4).join(', ')}${datasetsInside.length > 4 ? ', ...' : ''}`, 'open that folder');
  }
  const shown = names.filter((n) => n !== MARKER_FILE && n !== LOCK_FILE);
  throw invalid(
    root,
    `${root} is not a dataset trajforge can read: no meta/info.json (found ${shown.length === 0 ? 'an empty folder' : `${shown.slice(0, 8).join(', ')}${shown.length > 8 ? `, ... ${shown.length} entries` : ''}`})`,
    advice,
  );
}

/** The `format` a generate run recorded in DIR/.trajforge-run.json, or null. */
function recordedFormat(root: string): string | null {
  const file = join(root, RUN_SETTINGS);
  if (!existsSync(file)) return null;
  try {
    const { format } = readJson<{ format?: unknown }>(file);
    return typeof format === 'string' ? format : null;
  } catch {
    return null;
  }
}

/** The formats trajforge writes, recognised by their layout (each writes DIR/<format>/ when several were asked for). */
function detectFormats(root: string, entries: Dirent[]): string[] {
  const found = new Set<string>();
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const isFormatAt = (d: string): string | null => {
    const sub = existsSync(d) && statSync(d).isDirectory() ? readdirSync(d) : [];
    if (sub.includes('dreamer.json') || sub.includes('replay')) return 'dreamer';
    if (sub.some((n) => /^episode_\d{6}$/.test(n))) return 'frames';
    for (const name of sub) {
      const inner = join(d, name);
      if (!statSync(inner).isDirectory()) continue;
      const deeper = readdirSync(inner);
      if (deeper.some((n) => existsSync(join(inner, n, 'data', 'main_data.hdf5')))) return 'minari';
      if (deeper.some((n) => existsSync(join(inner, n, 'dataset_info.json')))) return 'rlds';
    }
    return null;
  };
  const top = isFormatAt(root);
  if (top) found.add(top);
  for (const d of dirs) if (d in FORMAT_NAMES && isFormatAt(join(root, d)) === d) found.add(d);
  return [...found];
}

function invalid(file: string, what: string, todo: string): TrajforgeError {
  return new TrajforgeError('E_DATASET_INVALID', `${what}; ${todo}`, { file, hint: todo });
}
