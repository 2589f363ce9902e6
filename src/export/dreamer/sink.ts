import { mkdirSync } from 'node:fs';
import { TrajforgeError } from '../../core/errors.js';
import { join } from 'node:path';
import { deriveSeed } from '../../core/rng.js';
import type { ChannelFrames, EpisodeData } from '../../dataset/episode.js';
import { writeFileAtomic } from '../../output/atomic.js';
import { episodeExtras, extraFeatures, flatKey, sourceJson, withFinal } from '../../dataset/extras.js';
import { npzBytes, type NpyArray } from '../../dataset/npz.js';
import { ATOMIC_TMP, removeMatching } from '../../dataset/journal.js';
import { JournaledSink, dirBytes, type JournalEntry } from '../../dataset/sink.js';
import type { DatasetMeta } from '../../dataset/meta.js';

/**
 * DreamerV3 replay (the official danijar/dreamerv3 layout, `replay/*.npz`): chunks of at most
 * 1024 steps named `{time}-{uuid}-{successor uuid}-{length}.npz`, each holding arrays over steps:
 * `image` (first rgb camera; others as `image_<camera>`), `state`, `action` (float32, or int32
 * for discrete spaces), `reward`, `is_first`, `is_last`, `is_terminal`, `stepid` (uuid + big-endian
 * step), plus `depth_<camera>`, `segmentation_<camera>`, ... when rendered.
 * Step semantics are DreamerV3's: an episode of T environment steps is T + 1 replay steps; step t
 * holds observation t, the reward that led to it (0 at the first step) and the action chosen at
 * it (zero at the last step). Times and uuids derive from the run seed, so files are reproducible.
 * Train with `replay_context=0` (the files carry no encoder/decoder context).
 * Extra features (`DatasetMeta.extraFeatures`, e.g. `observation.latent`) are further float32
 * arrays named with '.' -> '_' (`observation_latent`, [steps, dim]); like `state` they hold T + 1
 * rows, the last being the extra's final value (NaN when the producer gave none). Replay loads
 * every array and agents only read the keys they are configured for, so extra keys are inert.
 */
const CHUNK = 1024;
const PROGRESS = '.trajforge-dreamer';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** `{time}-{uuid}-{successor}-{length}.npz`, as this sink names its chunks. */
const CHUNK_FILE = /^\d{8}T\d{6}F\d{6}-[0-9A-Za-z]{22}-[0-9A-Za-z]{22}-\d+\.npz$/;

/** One chunk file of replay/: its name and npz bytes. */
interface ReplayChunk {
  name: string;
  bytes: Uint8Array;
}

export class DreamerSink extends JournaledSink<ReplayChunk[]> {
  protected readonly progress = PROGRESS;

  protected override validate(meta: DatasetMeta): void {
    extraFeatures(meta);
  }

  entries(): string[] {
    return ['replay/[^/]+\\.npz', 'dreamer\\.json'];
  }

  encode(ep: EpisodeData, meta: DatasetMeta): ReplayChunk[] {
    const arrays = replayArrays(ep, meta);
    const L = ep.length + 1;
    const uuids = Array.from({ length: Math.ceil(L / CHUNK) }, (_, c) => uuidBytes(meta.run.seed, ep.episode, c));
    const chunks: ReplayChunk[] = [];
    for (let c = 0; c * CHUNK < L; c++) {
      const from = c * CHUNK;
      const to = Math.min(L, from + CHUNK);
      const chunk: Record<string, NpyArray> = {};
      for (const [k, a] of Object.entries(arrays)) chunk[k] = sliceRows(a, from, to);
      const stepid = new Uint8Array((to - from) * 20);
      for (let i = 0; i < to - from; i++) {
        stepid.set(uuids[c]!, i * 20);
        new DataView(stepid.buffer).setUint32(i * 20 + 16, i, false);
      }
      chunk.stepid = { dtype: '|u1', shape: [to - from, 20], data: stepid };
      const succ = c + 1 < uuids.length ? base62(uuids[c + 1]!) : '0'.repeat(22);
      chunks.push({ name: `${timeName(ep.episode, c)}-${base62(uuids[c]!)}-${succ}-${to - from}.npz`, bytes: npzBytes(chunk) });
    }
    return chunks;
  }

  protected override start(kept: readonly (JournalEntry & { files: Record<string, number> })[]): void {
    mkdirSync(join(this.dir, 'replay'), { recursive: true });
    // Chunks the kept lines do not vouch for (a discarded episode, or one written but never journaled) go.
    const vouched = new Set(kept.flatMap((e) => Object.keys(e.files)));
    removeMatching(join(this.dir, 'replay'), (name) => ATOMIC_TMP.test(name) || (CHUNK_FILE.test(name) && !vouched.has(`replay/${name}`)));
  }

  protected commit(chunks: ReplayChunk[]): { files: Record<string, number> } {
    return this.commitFiles(chunks.map((c) => ({ path: `replay/${c.name}`, data: c.bytes })));
  }

  protected finish(lines: readonly JournalEntry[]): number {
    const episodes = lines.map(({ episode, seed, length, success }) => ({ episode, seed, length, success }));
    const m = this.meta;
    writeFileAtomic(
      join(this.dir, 'dreamer.json'),
      `${JSON.stringify({ format: 'dreamerv3 replay (official danijar/dreamerv3 npz chunks)', env_id: m.envId, config_hash: m.configHash, fps: m.fps, observation_names: m.observationNames, action_names: m.actionNames, discrete: m.discrete, cameras: m.cameras, body_names: m.bodyNames, run: m.run, config: m.config, ...dreamerOptional(m), episodes }, null, 1)}\n`,
    );
    return dirBytes(this.dir);
  }
}

/** All replay arrays of one episode, T + 1 rows each. */
export function replayArrays(ep: EpisodeData, meta: DatasetMeta): Record<string, NpyArray> {
  const T = ep.length;
  const L = T + 1;
  const D = ep.obsDim;
  const state = new Float32Array(L * D);
  state.set(ep.obs);
  state.set(ep.finalObs, T * D);
  const reward = new Float32Array(L);
  reward.set(ep.rewards, 1);
  const isFirst = new Uint8Array(L);
  isFirst[0] = 1;
  const isLast = new Uint8Array(L);
  isLast[T] = 1;
  const isTerminal = new Uint8Array(L);
  isTerminal[T] = ep.terminated[T - 1]!;
  const out: Record<string, NpyArray> = {};
  if (meta.discrete) {
    const action = new Int32Array(L);
    for (let t = 0; t < T; t++) action[t] = Math.round(ep.actions[t]!);
    out.action = { dtype: '<i4', shape: [L], data: action };
  } else {
    const A = ep.actionDim;
    const action = new Float32Array(L * A);
    action.set(ep.actions);
    out.action = { dtype: '<f4', shape: [L, A], data: action };
  }
  out.reward = { dtype: '<f4', shape: [L], data: reward };
  out.is_first = { dtype: '|b1', shape: [L], data: isFirst };
  out.is_last = { dtype: '|b1', shape: [L], data: isLast };
  out.is_terminal = { dtype: '|b1', shape: [L], data: isTerminal };
  out.state = { dtype: '<f4', shape: [L, D], data: state };
  const firstRgb = meta.cameras.find((c) => c.channels.includes('rgb'))?.name;
  for (const f of ep.frames) {
    const final = ep.finalFrames.find((g) => g.camera === f.camera && g.channel === f.channel);
    if (!final) throw new TrajforgeError('E_INTERNAL', `episode ${ep.episode}: no final ${f.channel} frame for ${f.camera}`);
    const key = f.channel === 'rgb' ? (f.camera === firstRgb ? 'image' : `image_${f.camera}`) : `${f.channel}_${f.camera}`;
    out[key] = frameArray(f, final, L);
  }
  for (const x of episodeExtras(meta, ep)) {
    const key = flatKey(x.key);
    if (key in out || key === 'stepid') throw new TrajforgeError('E_USAGE', `extra feature ${x.key}: DreamerV3 array name ${key} is already taken`);
    out[key] = { dtype: '<f4', shape: [L, x.dim], data: withFinal(x, T) };
  }
  return out;
}

/** dreamer.json additions, only when set (plain runs keep their file unchanged). */
function dreamerOptional(m: DatasetMeta) {
  return {
    ...(m.extraFeatures?.length ? { extra_features: m.extraFeatures.map((x) => ({ key: x.key, array: flatKey(x.key), dim: x.dim, ...(x.names ? { names: x.names } : {}) })) } : {}),
    ...(m.source ? { source: sourceJson(m.source) } : {}),
  };
}

function frameArray(f: ChannelFrames, final: ChannelFrames, L: number): NpyArray {
  const per = final.data.length;
  const data = new (f.data.constructor as new (n: number) => Uint8Array | Float32Array | Uint16Array)(L * per);
  data.set(f.data as never);
  data.set(final.data as never, (L - 1) * per);
  const C = per / (f.width * f.height);
  const shape = C === 1 ? [L, f.height, f.width] : [L, f.height, f.width, C];
  const dtype = data instanceof Uint8Array ? '|u1' : data instanceof Uint16Array ? '<u2' : '<f4';
  return { dtype, shape, data };
}

function sliceRows(a: NpyArray, from: number, to: number): NpyArray {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const view = a.data as unknown as { subarray(a: number, b: number): ArrayBufferView };
  return { dtype: a.dtype, shape: [to - from, ...a.shape.slice(1)], data: view.subarray(from * per, to * per) };
}

function uuidBytes(seed: number, episode: number, chunk: number): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) v.setUint32(i * 4, deriveSeed(seed, 'dreamer', episode, chunk, i));
  return out;
}

/** 128-bit big-endian integer in base62, 22 characters (DreamerV3's uuid text). */
function base62(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  for (let i = 0; i < 22; i++) {
    s = BASE62[Number(n % 62n)] + s;
    n /= 62n;
  }
  return s;
}

/** A reproducible, sortable `YYYYmmddTHHMMSSFffffff`: 2026-01-01 plus one second per episode. */
function timeName(episode: number, chunk: number): string {
  const d = new Date(Date.UTC(2026, 0, 1) + episode * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}F${p(chunk, 6)}`;
}

