/**
 * The recorder of `trajforge play --record DIR`: episodes a person drove in the page arrive one at
 * a time (seed, actions and the observations the page saw), are re-simulated here from seed and
 * actions, and are written only when Node reaches the very same states, rendered with the
 * dataset's cameras like generate renders them. Each episode is committed on arrival (one
 * checkpoint part per episode), so a killed process keeps every finished demo and `--resume`
 * continues the recording; closing finalises the dataset. Episode k of a recording has seed
 * S + k.
 */
import { readdirSync } from 'node:fs';
import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import { DEFAULT_LAYOUT, datasetMeta, type DatasetMeta, type DatasetSummary } from '../dataset/meta.js';
import { sinkEntries, type EpisodeSink } from '../dataset/sink.js';
import { replayEpisode, type StoredEpisode } from '../episode/replay.js';
import type { CameraRequest } from '../episode/simulate.js';
import { LOCK_FILE, MARKER_FILE, type OutputFolder } from '../output/folder.js';
import { Renderer, type Channel } from '../render/renderer.js';
import { createEnv, type PhysicsEnv } from '../sim/env.js';
import type { VideoCodec } from '../video/ffmpeg.js';
import { datasetOutput, openResumableDataset } from './dataset-output.js';
import { resolveIn, type NoticeCallback } from './progress.js';

/** What the page posts when an episode ends. */
export interface TeleopEpisode {
  seed: number;
  /** T × A actuator values (Box) or T choice indices (Discrete), row t the action taken at step t. */
  actions: number[];
  /** (T + 1) × D observations the page saw: after reset, then after each step (null stands for NaN, which JSON lacks). */
  obs: (number | null)[];
  /** T rewards. */
  rewards: number[];
  /** Whether the task was solved at the last step. */
  success: boolean;
}

export interface RecordedEpisode {
  /** The episode's place in the dataset. */
  index: number;
  seed: number;
  length: number;
  success: boolean;
  /** Episodes in the dataset now. */
  episodes: number;
  /** The seed the next episode must have. */
  nextSeed: number;
}

export interface RecorderOptions {
  env: ResolvedEnv;
  /** The --record folder (resolved against cwd). */
  dir: string;
  seed: number;
  overwrite?: boolean;
  resume?: boolean;
  format?: string;
  /** The recording's video codec (default h264, which needs even camera sides: lossless takes any). */
  codec?: VideoCodec;
  cwd?: string;
  onNotice?: NoticeCallback;
}

export interface RecordingSummary extends DatasetSummary {
  /** Episodes recorded in this session (the rest came from an interrupted one, resumed). */
  recorded: number;
  resumedFrom: number;
}

export class TeleopRecorder {
  private chain: Promise<unknown> = Promise.resolve();
  private recorded = 0;
  private closing: Promise<RecordingSummary> | null = null;

  private constructor(
    readonly dir: string,
    private readonly meta: DatasetMeta,
    private readonly sink: EpisodeSink,
    private readonly output: OutputFolder,
    private readonly env: PhysicsEnv,
    private readonly cameras: CameraRequest[],
    private readonly seed: number,
    /** Episodes on disk when this session started (from a resumed recording). */
    readonly resumedFrom: number,
  ) {}

  /**
   * Opens the --record folder through the output-folder machinery (new, --overwrite or --resume)
   * and the dataset sink; everything that can be refused is refused before anything is written.
   */
  static async open(opts: RecorderOptions): Promise<TeleopRecorder> {
    if (opts.overwrite && opts.resume) throw new TrajforgeError('E_USAGE', '--overwrite and --resume exclude each other: --resume continues a recording, --overwrite replaces it');
    if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new TrajforgeError('E_USAGE', `--seed must be an integer >= 0, got '${opts.seed}'`);
    const { sink, codec } = await datasetOutput({ format: opts.format, codec: opts.codec });
    const cfg = opts.env.config;
    const cameras = cfg.cameras.map((c) => ({ name: c.name, width: c.resolution[0], height: c.resolution[1], channels: [...c.channels] as Channel[] })).filter((c) => c.channels.length > 0);
    // One episode per checkpoint part: each demo is durable as soon as it is written. The episode
    // count is unknown until the recording ends (0 here, so a resumed recording's settings match).
    const meta = datasetMeta(opts.env, {
      cameras,
      run: { seed: opts.seed, episodes: 0, shard: { index: 0, count: 1 }, policy: { kind: 'teleop', noise: 0, epsilon: 0 }, codec, gop: 2, checkpoint: 1, layout: DEFAULT_LAYOUT },
      source: { kind: 'teleop' },
    });
    const env = await createEnv(opts.env);
    const dir = resolveIn(opts.cwd, opts.dir);
    let output: OutputFolder;
    try {
      output = openResumableDataset(dir, 'play', sinkEntries(sink, meta), opts);
    } catch (e) {
      env.close();
      throw e;
    }
    try {
      if (opts.resume && !isEmptyOutput(dir) && !hasStaging(dir)) {
        throw new TrajforgeError('E_DATASET_EXISTS', `${dir} holds no interrupted recording to resume (it is a finished dataset); record into a new folder, or --overwrite`, { file: dir });
      }
      const opened = await sink.open(dir, meta, { resume: opts.resume === true });
      for (const line of opened.notices ?? []) opts.onNotice?.(line, 'output');
      meta.run.episodes = opened.committed;
      return new TeleopRecorder(dir, meta, sink, output, env, cameras.map((c) => ({ name: c.name, channels: c.channels })), opts.seed, opened.committed);
    } catch (e) {
      env.close();
      const cause = output.failure(e);
      output.abandon();
      throw cause;
    }
  }

  /** Episodes in the dataset (resumed ones included). */
  get episodes(): number {
    return this.meta.run.episodes;
  }

  get nextSeed(): number {
    return this.seed + this.meta.run.episodes;
  }

  /**
   * The largest body a posted episode of this environment can need: every number of a full-length
   * episode (T actions, T + 1 observations, T rewards) at 32 characters, with room for the keys.
   * The server refuses more with 413 before parsing it, so a hostile post costs no memory.
   */
  get maxPostBytes(): number {
    const T = this.env.config.task.timeLimit;
    const D = this.env.observationSpace.shape[0];
    const A = this.env.actionSpace.type === 'box' ? this.env.actionSpace.shape[0] : 1;
    return 64 * 1024 + 32 * (T * A + (T + 1) * D + T);
  }

  /**
   * Re-simulates a posted episode and writes it when Node's states equal the page's; a mismatch
   * or a malformed episode is refused (E_DATASET_INVALID / E_USAGE) and nothing is written.
   * Episodes are taken one at a time, in the order they arrive.
   */
  record(posted: unknown): Promise<RecordedEpisode> {
    const run = this.chain.then(() => this.recordNow(posted));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async recordNow(posted: unknown): Promise<RecordedEpisode> {
    if (this.closing) throw new TrajforgeError('E_USAGE', `the recording into ${this.dir} is finished; start trajforge play again to record more`);
    const index = this.meta.run.episodes;
    const stored = checkEpisode(posted, this.env, index, this.nextSeed);
    const unfinished = () =>
      new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}) has ${stored.length} steps in the page but does not end there in Node (an episode is posted once it terminates or hits the time limit); nothing was recorded`);
    let replayed: Awaited<ReturnType<typeof replayEpisode>>;
    try {
      replayed = await replayEpisode(this.env, new Renderer(), stored, this.cameras);
    } catch (e) {
      // The replay policy ran out of actions: Node's episode goes on where the page's stopped.
      if (e instanceof TrajforgeError && e.code === 'E_POLICY_INVALID') throw unfinished();
      throw e;
    }
    const ep = replayed.episode;
    const D = stored.obsDim;
    const d = replayed.firstDivergence;
    if (d) {
      throw new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}) does not re-simulate in Node: at step ${d.step} observation ${d.index} (${this.meta.observationNames[d.index]}) is ${d.replayed} in Node, ${d.stored} in the page; nothing was recorded`);
    }
    if (replayed.maxDeviation !== 0) {
      throw new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}) has ${stored.length} steps in the page but ends after ${ep.length} in Node; nothing was recorded`);
    }
    const body = posted as TeleopEpisode;
    for (let i = 0; i < D; i++) {
      const page = body.obs[stored.length * D + i] ?? NaN;
      const node = ep.finalObs[i]!;
      if (!(Math.fround(page) === node || (Number.isNaN(page) && Number.isNaN(node)))) {
        throw new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}): the final observation ${i} (${this.meta.observationNames[i]}) is ${node} in Node, ${page} in the page; nothing was recorded`);
      }
    }
    for (let t = 0; t < ep.length; t++) {
      if (Math.fround(body.rewards[t]!) !== ep.rewards[t]) {
        throw new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}): the reward at step ${t} is ${ep.rewards[t]} in Node, ${body.rewards[t]} in the page; nothing was recorded`);
      }
    }
    const success = ep.success[ep.length - 1] === 1;
    if (success !== body.success) throw new TrajforgeError('E_DATASET_INVALID', `episode (seed ${stored.seed}): success is ${success} in Node, ${body.success} in the page; nothing was recorded`);
    await this.sink.write(ep);
    this.output.assertHeld();
    this.meta.run.episodes++;
    this.recorded++;
    return { index, seed: stored.seed, length: ep.length, success, episodes: this.meta.run.episodes, nextSeed: this.nextSeed };
  }

  /**
   * Finalises the dataset (idempotent). A recording that holds no episode at all leaves nothing
   * behind; what a failure leaves stays resumable.
   */
  close(): Promise<RecordingSummary> {
    this.closing ??= this.chain.then(() => this.closeNow());
    return this.closing;
  }

  private async closeNow(): Promise<RecordingSummary> {
    this.env.close();
    if (this.meta.run.episodes === 0) {
      await this.sink.abort();
      this.output.discard();
      return { dir: this.dir, episodes: 0, frames: 0, successes: 0, bytes: 0, recorded: 0, resumedFrom: 0 };
    }
    try {
      this.output.assertHeld();
      const summary = await this.sink.close();
      this.output.close();
      return { ...summary, recorded: this.recorded, resumedFrom: this.resumedFrom };
    } catch (e) {
      await this.sink.abort();
      const cause = this.output.failure(e);
      this.output.abandon();
      throw cause;
    }
  }
}

/** The posted episode as a StoredEpisode, every field checked against the environment; the message names the field. */
function checkEpisode(posted: unknown, env: PhysicsEnv, index: number, nextSeed: number): StoredEpisode {
  const bad = (m: string) => new TrajforgeError('E_USAGE', `the posted episode is malformed: ${m}; nothing was recorded`);
  if (typeof posted !== 'object' || posted === null || Array.isArray(posted)) throw bad('expected a JSON object { seed, actions, obs, rewards, success }');
  const p = posted as Record<string, unknown>;
  if (p.seed !== nextSeed) throw new TrajforgeError('E_USAGE', `the posted episode has seed ${shown(p.seed)}; this recording's next episode has seed ${nextSeed} (episode k has seed --seed + k); reload the page`);
  const numbers = (key: string, n: number, nullable = false): number[] => {
    const v = p[key];
    if (!Array.isArray(v)) throw bad(`${key}: expected an array of numbers`);
    if (v.length !== n) throw bad(`${key}: expected ${n} values, found ${v.length}`);
    return v.map((x, i) => {
      if (nullable && x === null) return NaN;
      if (typeof x !== 'number' || !Number.isFinite(x)) throw bad(`${key}[${i}]: expected a finite number, found ${shown(x)}`);
      return x;
    });
  };
  const rewards = p.rewards;
  if (!Array.isArray(rewards) || rewards.length < 1) throw bad('rewards: expected one number per step (at least one step)');
  const T = rewards.length;
  const limit = env.config.task.timeLimit;
  if (T > limit) throw bad(`${T} steps, but the environment's time limit is ${limit}`);
  numbers('rewards', T);
  const D = env.observationSpace.shape[0];
  const discrete = env.actionSpace.type === 'discrete';
  const A = env.actionSpace.type === 'box' ? env.actionSpace.shape[0] : 1;
  const actions = numbers('actions', T * A);
  if (env.actionSpace.type === 'discrete') {
    const n = env.actionSpace.n;
    const i = actions.findIndex((a) => !Number.isInteger(a) || a < 0 || a >= n);
    if (i >= 0) throw bad(`actions[${i}]: expected a choice index 0..${n - 1}, found ${actions[i]}`);
  }
  const obs = numbers('obs', (T + 1) * D, true);
  if (typeof p.success !== 'boolean') throw bad('success: expected true or false');
  return { episode: index, seed: nextSeed, length: T, obsDim: D, obs: Float32Array.from(obs.slice(0, T * D)), actions: Float32Array.from(actions), actionDim: A, discrete };
}

/** A posted value as an error message shows it: short (a nested array can be huge), Infinity as such (JSON would say null). */
function shown(x: unknown): string {
  const text = typeof x === 'number' ? String(x) : (JSON.stringify(x) ?? String(x));
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} characters)` : text;
}

function ownEntries(dir: string): string[] {
  return readdirSync(dir).filter((e) => e !== LOCK_FILE && e !== MARKER_FILE);
}

function isEmptyOutput(dir: string): boolean {
  return ownEntries(dir).length === 0;
}

/** An interrupted recording leaves its staging (`.trajforge*`) behind; a finished one does not. */
function hasStaging(dir: string): boolean {
  return ownEntries(dir).some((e) => e.startsWith('.trajforge'));
}
