import { accessSync, constants, mkdirSync, renameSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TrajforgeError, asIoError } from '../../core/errors.js';
import type { EpisodeData } from '../../dataset/episode.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { episodeExtras, extraFeatures, flatKey, sourceJson, withFinal } from '../../dataset/extras.js';
import { fileBytes, sizeProblem } from '../../dataset/journal.js';
import { escapeRegExp } from '../../output/folder.js';
import { JournaledSink, type Intact, type JournalEntry, type SinkOpened } from '../../dataset/sink.js';
import type { DatasetMeta } from '../../dataset/meta.js';
import { removeOwn } from '../../output/remove.js';

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

/** The WASM module behind h5wasm: its `flush` returns HDF5's status, which h5wasm's File drops. */
let h5Module: { flush(fileId: bigint): number; FS: { getStream(fd: number): unknown; close(stream: unknown): void; open(path: string, flags: number): unknown } } | null = null;

async function loadH5(): Promise<H5> {
  if (!h5) {
    h5 = import('h5wasm/node').then(async (m) => {
      const lib = (m as unknown as { default: H5 & { ready: Promise<typeof h5Module> } }).default;
      h5Module = await lib.ready;
      // HDF5's C library prints its whole error stack (dozens of HDF5-DIAG lines per failed write on
      // a full disk) to the module's stderr. The sink reports every failure itself as a coded error,
      // so the module's fd 2 is pointed at /dev/null (process.stderr is not affected).
      const FS = h5Module!.FS;
      FS.close(FS.getStream(2));
      FS.open('/dev/null', 1);
      return lib;
    });
  }
  return h5;
}

/** HDF5 reports failed writes only through status codes: a failed flush or open becomes E_IO naming the file. */
function hdf5WriteError(file: string): TrajforgeError {
  let cause = 'HDF5 could not write it';
  try {
    const fsStats = statfsSync(dirname(file));
    if (fsStats.bavail * fsStats.bsize < 1 << 20) cause = 'the disk is full';
    accessSync(dirname(file), constants.W_OK);
  } catch (e) {
    return asIoError(e, file) as TrajforgeError;
  }
  return new TrajforgeError('E_IO', `writing ${file} failed: ${cause}`, { file, hint: 'finished work is kept; fix the cause and rerun with --resume' });
}

function createH5(H: H5, file: string): InstanceType<H5['File']> {
  const f = new H.File(file, 'w');
  if (f.file_id < 0n) throw hdf5WriteError(file);
  return f;
}

function flushH5(f: InstanceType<H5['File']>, file: string): void {
  if (h5Module!.flush(f.file_id) < 0) throw hdf5WriteError(file);
}

/** Byte length of main_data.hdf5.tmp after the episode's flush: what its journal line records. */
interface FlushedSize {
  bytes: number;
}

/**
 * Minari's `namespace/name-vN`: the environment id lower-cased, its version kept. An id without
 * one (another tool's robot type, as a model of its dataset records it) is version 0, and
 * characters Minari's ids do not take become '-'.
 */
export function minariDatasetId(envId: string): string {
  const m = /^(.*)-v(\d+)$/.exec(envId);
  const name = (m ? m[1]! : envId).toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
  return `trajforge/${name || 'dataset'}-v${m ? m[2] : 0}`;
}

export class MinariSink extends JournaledSink<EpisodeGroup, FlushedSize> {
  protected readonly progress = PROGRESS;
  private H!: H5;
  private file: InstanceType<H5['File']> | null = null;

  private get dataDir(): string {
    return join(this.dir, minariDatasetId(this.meta.envId), 'data');
  }

  private get tmp(): string {
    return join(this.dataDir, 'main_data.hdf5.tmp');
  }

  entries(meta: DatasetMeta): string[] {
    return [`${escapeRegExp(minariDatasetId(meta.envId).split('/')[0]!)}/[^/]+/data/(main_data\\.hdf5|metadata\\.json)`];
  }

  /** Rejects extra features whose names clash, before any file exists. */
  protected override validate(meta: DatasetMeta): void {
    observationSpace(meta);
  }

  protected override framesOf(length: number): number {
    return length;
  }

  override async open(dir: string, meta: DatasetMeta, opts: { resume: boolean }): Promise<SinkOpened> {
    this.H = await loadH5();
    return super.open(dir, meta, opts);
  }

  encode(ep: EpisodeData, meta: DatasetMeta, position: number): EpisodeGroup {
    return episodeGroup(ep, position, meta);
  }

  /**
   * HDF5 cannot drop what was written after the last journaled flush, so the file is kept whole or
   * redone whole. Checking it means rebuilding it (see reopen), so a file that passes stays open.
   */
  protected override intact(lines: readonly (JournalEntry & FlushedSize)[], damage: string | null): Intact {
    mkdirSync(this.dataDir, { recursive: true });
    const problem = this.reopen(this.H, this.tmp, lines);
    return problem === null ? { count: lines.length } : { count: 0, what: 'all episodes', problem: damage ? `${damage}; ${problem}` : problem };
  }

  protected override start(kept: readonly JournalEntry[]): void {
    if (kept.length > 0) return; // reopened by intact()
    mkdirSync(this.dataDir, { recursive: true });
    removeOwn(this.tmp);
    this.file = createH5(this.H, this.tmp);
  }

  /**
   * Continues the unfinished file when it is exactly what the journal vouches for: the byte length
   * recorded after the last journaled flush and one group per journaled episode. Otherwise returns
   * what is wrong (the file is then redone).
   */
  private reopen(H: H5, tmp: string, entries: readonly (JournalEntry & FlushedSize)[]): string | null {
    const last = entries[entries.length - 1]!;
    if (typeof last.bytes !== 'number') return 'its journal records no file size';
    const problem = sizeProblem(tmp, last.bytes, 'main_data.hdf5.tmp');
    if (problem) return problem;
    let old: InstanceType<H5['File']> | null = null;
    let fresh: InstanceType<H5['File']> | null = null;
    const rebuilt = `${tmp}.rebuild`;
    try {
      old = new H.File(tmp, 'r');
      const groups = new Set(old.keys());
      const missing = entries.findIndex((_, i) => !groups.has(`episode_${i}`));
      if (missing >= 0) return `main_data.hdf5.tmp lacks episode_${missing}`;
      if (groups.size !== entries.length) return `main_data.hdf5.tmp holds ${groups.size} episodes, ${entries.length} journaled`;
      // An HDF5 file reopened for appending lays out what follows differently from one written in
      // one go; copying the kept episodes into a new file with the writer's own calls and flushes
      // makes the finished file byte-identical to an uninterrupted run's.
      fresh = createH5(H, rebuilt);
      for (let i = 0; i < entries.length; i++) {
        writeEpisodeGroup(fresh, i, readEpisodeGroup(old, i, this.meta));
        flushH5(fresh, rebuilt);
      }
      old.close();
      old = null;
      renameSync(rebuilt, tmp);
      this.file = fresh;
      return null;
    } catch (e) {
      fresh?.close();
      removeOwn(rebuilt);
      return `main_data.hdf5.tmp unreadable (${(e as Error).message})`;
    } finally {
      old?.close();
    }
  }

  protected commit(group: EpisodeGroup, _ep: EpisodeData, position: number): FlushedSize {
    writeEpisodeGroup(this.file!, position, group);
    flushH5(this.file!, this.tmp);
    return { bytes: fileBytes(this.tmp) };
  }

  protected finish(): number {
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
      total_steps: this.frames,
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
    return statSync(hdf5).size;
  }

  override async abort(): Promise<void> {
    this.file?.close();
    this.file = null;
  }
}

type H5Dtype = '<f' | '<B' | '<H' | '<q' | '<d' | '|b1';
interface DatasetSpec {
  name: string;
  data: Float32Array | Float64Array | Uint8Array | Uint16Array | BigInt64Array;
  shape: number[];
  dtype: H5Dtype;
}

/** One episode's group in the order it is written: attrs, observations/*, actions .. truncations, infos/*. */
interface EpisodeGroup {
  attrs: { id: number; total_steps: number; seed: number };
  observations: DatasetSpec[];
  datasets: DatasetSpec[];
  infos: DatasetSpec[];
}

function episodeGroup(ep: EpisodeData, i: number, meta: DatasetMeta): EpisodeGroup {
  const T = ep.length;
  const state = new Float32Array((T + 1) * ep.obsDim);
  state.set(ep.obs);
  state.set(ep.finalObs, T * ep.obsDim);
  const observations: DatasetSpec[] = [{ name: 'state', data: state, shape: [T + 1, ep.obsDim], dtype: '<f' }];
  for (const fr of ep.frames) {
    const final = ep.finalFrames.find((x) => x.camera === fr.camera && x.channel === fr.channel)!;
    const per = final.data.length;
    const data = new (fr.data.constructor as new (n: number) => Uint8Array | Float32Array | Uint16Array)((T + 1) * per);
    data.set(fr.data as never);
    data.set(final.data as never, T * per);
    const C = per / (fr.width * fr.height);
    const shape = C === 1 ? [T + 1, fr.height, fr.width] : [T + 1, fr.height, fr.width, C];
    const dtype = data instanceof Uint8Array ? '<B' : data instanceof Uint16Array ? '<H' : '<f';
    observations.push({ name: obsKey(fr.channel, fr.camera), data, shape, dtype });
  }
  for (const x of episodeExtras(meta, ep)) observations.push({ name: flatKey(x.key), data: withFinal(x, T), shape: [T + 1, x.dim], dtype: '<f' });
  const actions: DatasetSpec = meta.discrete
    ? { name: 'actions', data: BigInt64Array.from(ep.actions, (a) => BigInt(Math.round(a))), shape: [T], dtype: '<q' }
    : { name: 'actions', data: ep.actions, shape: [T, ep.actionDim], dtype: '<f' };
  return {
    attrs: { id: i, total_steps: T, seed: ep.seed },
    observations,
    datasets: [
      actions,
      { name: 'rewards', data: Float64Array.from(ep.rewards), shape: [T], dtype: '<d' },
      { name: 'terminations', data: Uint8Array.from(ep.terminated), shape: [T], dtype: '|b1' },
      { name: 'truncations', data: Uint8Array.from(ep.truncated), shape: [T], dtype: '|b1' },
    ],
    infos: [{ name: 'success', data: Uint8Array.from(ep.success), shape: [T], dtype: '|b1' }],
  };
}

function writeEpisodeGroup(f: InstanceType<H5['File']>, i: number, e: EpisodeGroup): void {
  const g = f.create_group(`episode_${i}`);
  g.create_attribute('id', e.attrs.id);
  g.create_attribute('total_steps', e.attrs.total_steps);
  g.create_attribute('seed', e.attrs.seed);
  const obs = g.create_group('observations');
  for (const d of e.observations) obs.create_dataset(d);
  for (const d of e.datasets) g.create_dataset(d);
  const infos = g.create_group('infos');
  for (const d of e.infos) infos.create_dataset(d);
}

/**
 * An episode group read back for rewriting: observations in the writer's order (state, each
 * camera's channels as declared, extras), booleans (which HDF5 hands back as int8) as written.
 */
function readEpisodeGroup(f: InstanceType<H5['File']>, i: number, meta: DatasetMeta): EpisodeGroup {
  type Node = { value: unknown; shape: number[] | null; dtype: unknown; keys?: () => string[]; attrs?: Record<string, { value: unknown }> };
  const node = (path: string) => f.get(`episode_${i}/${path}`) as unknown as Node;
  const spec = (path: string, name: string, bool = false): DatasetSpec => {
    const d = node(path);
    return bool
      ? { name, data: Uint8Array.from(d.value as Int8Array), shape: d.shape!, dtype: '|b1' }
      : { name, data: d.value as DatasetSpec['data'], shape: d.shape!, dtype: d.dtype as H5Dtype };
  };
  const attrs = (f.get(`episode_${i}`) as unknown as Node).attrs!;
  const declared = ['state', ...meta.cameras.flatMap((c) => c.channels.map((ch) => obsKey(ch, c.name))), ...(meta.extraFeatures ?? []).map((x) => flatKey(x.key))];
  const present = (f.get(`episode_${i}/observations`) as unknown as Node).keys!();
  const order = [...declared.filter((k) => present.includes(k)), ...present.filter((k) => !declared.includes(k)).sort()];
  return {
    attrs: { id: Number(attrs.id!.value), total_steps: Number(attrs.total_steps!.value), seed: Number(attrs.seed!.value) },
    observations: order.map((k) => spec(`observations/${k}`, k)),
    datasets: [spec('actions', 'actions'), spec('rewards', 'rewards'), spec('terminations', 'terminations', true), spec('truncations', 'truncations', true)],
    infos: [spec('infos/success', 'success', true)],
  };
}

const obsKey = (channel: string, camera: string) => (channel === 'rgb' ? `image_${camera}` : `${channel}_${camera}`);

type SpaceDesc = { type: 'Box'; dtype: string; shape: number[]; low: number | number[]; high: number | number[] } | { type: 'Discrete'; n: number; start: number; dtype: string } | { type: 'Dict'; subspaces: Record<string, SpaceDesc> };

/** A float32 box of `n` values without bounds. */
function unboundedBox(n: number): SpaceDesc {
  return { type: 'Box', dtype: 'float32', shape: [n], low: Array.from({ length: n }, () => -Infinity), high: Array.from({ length: n }, () => Infinity) };
}

function observationSpace(m: DatasetMeta): SpaceDesc {
  const sub: Record<string, SpaceDesc> = {
    state: unboundedBox(m.observationNames.length),
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
    sub[key] = unboundedBox(x.dim);
  }
  return { type: 'Dict', subspaces: sub };
}

function actionSpace(m: DatasetMeta): SpaceDesc {
  // Without an environment config (episodes labelled by a model of another tool's dataset) the
  // bounds are unknown: an unbounded box of the recorded action names.
  const acts = m.config?.actions;
  if (m.discrete) return { type: 'Discrete', n: acts?.discrete?.length ?? m.actionNames.length, start: 0, dtype: 'int64' };
  if (!acts) return unboundedBox(m.actionNames.length);
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
