import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../episode/simulate.js';
import { writeFileAtomic } from './atomic.js';
import { episodeExtras, extraFeatures, flatKey, sourceJson, withFinal } from './extras.js';
import type { DatasetMeta, DatasetSummary, EpisodeSink } from './sink.js';

/**
 * Minari (HDF5) dataset: DIR/<namespace>/<name>-v<N>/data/{metadata.json, main_data.hdf5}, so
 * `MINARI_DATASETS_PATH=DIR minari.load_dataset("trajforge/<name>-v<N>")` finds it.
 * Per episode `episode_{i}`: attrs id, total_steps, seed; `observations` (a Dict space: `state`,
 * `image_<camera>`, `depth_<camera>`, ...) with T + 1 rows including the reset observation;
 * `actions`, `rewards`, `terminations`, `truncations` with T rows; `infos/success`.
 * Images are stored raw (lossless) with `jpeg_encoding: false` in metadata.json: Minari's reader
 * otherwise treats uint8 0..255 image boxes as JPEG bytes (its HEAD honours the flag; 0.5.3 does not).
 * Spaces are serialised as Minari does: JSON strings with bare `Infinity` for unbounded boxes.
 * HDF5 is written with h5wasm (the HDF5 C library compiled to WASM).
 * Extra features (`DatasetMeta.extraFeatures`, e.g. `observation.latent`) are further observation
 * subspaces named with '.' -> '_' (`observations/observation_latent`, a float32 Box of shape
 * [dim], T + 1 rows, the last the final value or NaN when the producer gave none): Minari decodes
 * exactly the subspaces the Dict declares, so they load like `state`. Provenance (`source`) sits
 * in metadata.json under `trajforge`, a key Minari ignores.
 */
const PROGRESS = '.trajforge-minari';

type H5 = typeof import('h5wasm');
let h5: Promise<H5> | null = null;
async function loadH5(): Promise<H5> {
  if (!h5) {
    h5 = import('h5wasm/node').then(async (m) => {
      const lib = (m as unknown as { default: H5 & { ready: Promise<unknown> } }).default;
      await lib.ready;
      return lib;
    });
  }
  return h5;
}

export function minariDatasetId(envId: string): string {
  const m = /^(.*)-v(\d+)$/.exec(envId)!;
  return `trajforge/${m[1]!.toLowerCase()}-v${m[2]}`;
}

export class MinariSink implements EpisodeSink {
  private dir = '';
  private meta!: DatasetMeta;
  private dataDir = '';
  private file: InstanceType<H5['File']> | null = null;
  private episodes = 0;
  private steps = 0;
  private successes = 0;

  async open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<{ committed: number }> {
    this.dir = dir;
    this.meta = meta;
    observationSpace(meta); // rejects extra features whose names clash, before any file exists
    this.dataDir = join(dir, minariDatasetId(meta.envId), 'data');
    mkdirSync(this.dataDir, { recursive: true });
    mkdirSync(join(dir, PROGRESS), { recursive: true });
    const H = await loadH5();
    const progress = join(dir, PROGRESS, 'episodes.jsonl');
    const tmp = join(this.dataDir, 'main_data.hdf5.tmp');
    // HDF5 files are not appendable atomically: a resumed run rewrites the file from the
    // episodes recorded as complete, which are replayed by the caller (committed = 0 here when
    // the file is missing).
    if (opts.resume && existsSync(progress) && existsSync(tmp)) {
      const done = readFileSync(progress, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as { length: number; success: boolean });
      this.file = new H.File(tmp, 'a');
      const present = this.file.keys().filter((k) => k.startsWith('episode_')).length;
      if (present === done.length) {
        this.episodes = done.length;
        this.steps = done.reduce((n, e) => n + e.length, 0);
        this.successes = done.filter((e) => e.success).length;
        return { committed: done.length };
      }
      this.file.close();
    }
    writeFileAtomic(progress, '');
    rmSync(tmp, { force: true });
    this.file = new H.File(tmp, 'w');
    return { committed: 0 };
  }

  async write(ep: EpisodeData): Promise<void> {
    const f = this.file!;
    const i = this.episodes;
    const T = ep.length;
    const g = f.create_group(`episode_${i}`);
    g.create_attribute('id', i);
    g.create_attribute('total_steps', T);
    g.create_attribute('seed', ep.seed);
    const obs = g.create_group('observations');
    const state = new Float32Array((T + 1) * ep.obsDim);
    state.set(ep.obs);
    state.set(ep.finalObs, T * ep.obsDim);
    obs.create_dataset({ name: 'state', data: state, shape: [T + 1, ep.obsDim], dtype: '<f' });
    for (const fr of ep.frames) {
      const final = ep.finalFrames.find((x) => x.camera === fr.camera && x.channel === fr.channel)!;
      const per = final.data.length;
      const data = new (fr.data.constructor as new (n: number) => Uint8Array | Float32Array | Uint16Array)((T + 1) * per);
      data.set(fr.data as never);
      data.set(final.data as never, T * per);
      const C = per / (fr.width * fr.height);
      const shape = C === 1 ? [T + 1, fr.height, fr.width] : [T + 1, fr.height, fr.width, C];
      const dtype = data instanceof Uint8Array ? '<B' : data instanceof Uint16Array ? '<H' : '<f';
      obs.create_dataset({ name: obsKey(fr.channel, fr.camera), data, shape, dtype });
    }
    for (const x of episodeExtras(this.meta, ep)) obs.create_dataset({ name: flatKey(x.key), data: withFinal(x, T), shape: [T + 1, x.dim], dtype: '<f' });
    if (this.meta.discrete) g.create_dataset({ name: 'actions', data: BigInt64Array.from(ep.actions, (a) => BigInt(Math.round(a))), shape: [T], dtype: '<q' });
    else g.create_dataset({ name: 'actions', data: ep.actions, shape: [T, ep.actionDim], dtype: '<f' });
    g.create_dataset({ name: 'rewards', data: Float64Array.from(ep.rewards), shape: [T], dtype: '<d' });
    g.create_dataset({ name: 'terminations', data: Uint8Array.from(ep.terminated), shape: [T], dtype: '|b1' });
    g.create_dataset({ name: 'truncations', data: Uint8Array.from(ep.truncated), shape: [T], dtype: '|b1' });
    g.create_group('infos').create_dataset({ name: 'success', data: Uint8Array.from(ep.success), shape: [T], dtype: '|b1' });
    f.flush();
    const success = ep.success[T - 1] === 1;
    appendFileSync(join(this.dir, PROGRESS, 'episodes.jsonl'), `${JSON.stringify({ episode: ep.episode, seed: ep.seed, length: T, success })}\n`);
    this.episodes++;
    this.steps += T;
    if (success) this.successes++;
  }

  async close(): Promise<DatasetSummary> {
    this.file!.close();
    this.file = null;
    const hdf5 = join(this.dataDir, 'main_data.hdf5');
    renameSync(`${hdf5}.tmp`, hdf5);
    const m = this.meta;
    const metadata = {
      dataset_id: minariDatasetId(m.envId),
      minari_version: '0.5.3',
      data_format: 'hdf5',
      total_episodes: this.episodes,
      total_steps: this.steps,
      observation_space: RAW(spaceJson(observationSpace(m))),
      action_space: RAW(spaceJson(actionSpace(m))),
      algorithm_name: `trajforge ${m.run.policy.kind} policy`,
      author: ['trajforge'],
      code_permalink: 'trajforge (generated)',
      dataset_size: Number((statSync(hdf5).size / 1e6).toFixed(3)),
      jpeg_encoding: false,
      trajforge: { env_id: m.envId, config_hash: m.configHash, seed: m.run.seed, fps: m.fps, ...(m.source ? { source: sourceJson(m.source) } : {}) },
    };
    writeFileAtomic(join(this.dataDir, 'metadata.json'), `${serialize(metadata)}\n`);
    rmSync(join(this.dir, PROGRESS), { recursive: true, force: true });
    return { dir: this.dir, episodes: this.episodes, frames: this.steps, successes: this.successes, bytes: statSync(hdf5).size };
  }

  async abort(): Promise<void> {
    this.file?.close();
    this.file = null;
  }
}

const obsKey = (channel: string, camera: string) => (channel === 'rgb' ? `image_${camera}` : `${channel}_${camera}`);

type SpaceDesc = { type: 'Box'; dtype: string; shape: number[]; low: number | number[]; high: number | number[] } | { type: 'Discrete'; n: number; start: number; dtype: string } | { type: 'Dict'; subspaces: Record<string, SpaceDesc> };

function observationSpace(m: DatasetMeta): SpaceDesc {
  const sub: Record<string, SpaceDesc> = {
    state: { type: 'Box', dtype: 'float32', shape: [m.observationNames.length], low: m.observationNames.map(() => -Infinity), high: m.observationNames.map(() => Infinity) },
  };
  for (const c of m.cameras) {
    for (const ch of c.channels) {
      const C = ch === 'rgb' || ch === 'normals' ? 3 : ch === 'flow' ? 2 : 1;
      const shape = C === 1 ? [c.height, c.width] : [c.height, c.width, C];
      const box = (dtype: string, low: number, high: number): SpaceDesc => ({ type: 'Box', dtype, shape, low: fill(shape, low), high: fill(shape, high) });
      sub[obsKey(ch, c.name)] =
        ch === 'rgb' ? box('uint8', 0, 255) : ch === 'segmentation' ? box('uint16', 0, 65535) : ch === 'depth' ? box('float32', 0, Infinity) : ch === 'normals' ? box('float32', -1, 1) : box('float32', -Infinity, Infinity);
    }
  }
  for (const x of extraFeatures(m)) {
    const key = flatKey(x.key);
    if (key in sub) throw new TrajforgeError('E_USAGE', `extra feature ${x.key}: Minari observation ${key} is already taken`);
    sub[key] = { type: 'Box', dtype: 'float32', shape: [x.dim], low: Array.from({ length: x.dim }, () => -Infinity), high: Array.from({ length: x.dim }, () => Infinity) };
  }
  return { type: 'Dict', subspaces: sub };
}

function actionSpace(m: DatasetMeta): SpaceDesc {
  const acts = m.config.actions;
  if (m.discrete) return { type: 'Discrete', n: acts.discrete!.length, start: 0, dtype: 'int64' };
  return { type: 'Box', dtype: 'float32', shape: [acts.actuators.length], low: acts.actuators.map((a) => a.low), high: acts.actuators.map((a) => a.high) };
}

function fill(shape: number[], v: number): number[] | number {
  const build = (d: number): unknown => (d === shape.length ? v : Array.from({ length: shape[d]! }, () => build(d + 1)));
  return build(0) as number[];
}

/** Python's json writes bare Infinity / -Infinity; Minari's space strings contain them. */
function spaceJson(s: SpaceDesc): string {
  return JSON.stringify(s, (_k, v: unknown) => (v === Infinity ? '__INF__' : v === -Infinity ? '__NINF__' : v))
    .replaceAll('"__INF__"', 'Infinity')
    .replaceAll('"__NINF__"', '-Infinity');
}

/** Marks a string to be emitted as a JSON string (Minari double-encodes its spaces). */
const RAW = (s: string) => ({ __raw: s });
function serialize(o: Record<string, unknown>): string {
  return JSON.stringify(o, (_k, v: unknown) => (v && typeof v === 'object' && '__raw' in (v as object) ? (v as { __raw: string }).__raw : v), 1);
}
